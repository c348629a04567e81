package org.janus.itests;

import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;
import static org.ops4j.pax.exam.CoreOptions.workingDirectory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.ops4j.pax.exam.Option;

/**
 * The framework a Pax Exam test boots: the bundles the build copied into {@code bundles.dir} (by symbolic name),
 * Felix SCR, Config Admin and the KVM layer under every test's own bundles, and the settings they all share.
 */
final class PaxFramework {
    /** Declarative Services, Config Admin and the KVM layer with the software KVM: what every test starts from. */
    static final List<String> CORE = List.of("org.osgi.util.function", "org.osgi.util.promise", "org.osgi.service.component",
            "org.apache.felix.scr", "org.apache.felix.configadmin", "gson", "jna", "org.janus.kvm.api", "org.janus.kvm.libc",
            "org.janus.kvm.sim");

    private PaxFramework() {}

    /** Where the build put the bundles. */
    static String bundlesDir() { return System.getProperty("bundles.dir", "target/bundles"); }

    /** The {@link #CORE} bundles, then {@code bundles}, with {@code extra} options (e.g. system properties). */
    static Option[] framework(List<Option> extra, String... bundles) {
        String dir = bundlesDir();
        List<Option> list = new ArrayList<>();
        list.add(workingDirectory("target/paxexam"));
        list.add(cleanCaches(true));
        // pax-logging-api, provisioned by Pax Exam's link bundles, logs at DEBUG unless told otherwise.
        list.add(systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("WARN"));
        list.add(systemProperty("bundles.dir").value(dir));
        list.addAll(extra);
        List<String> all = new ArrayList<>(CORE);
        all.addAll(List.of(bundles));
        for (String b : all) list.add(bundle(Path.of(dir, b + ".jar").toUri().toString()));
        list.add(junitBundles());
        return options(list.toArray(new Option[0]));
    }
}
