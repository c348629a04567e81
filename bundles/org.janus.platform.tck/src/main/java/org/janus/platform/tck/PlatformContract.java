package org.janus.platform.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

/**
 * The platform contract as JUnit 5 tests. A platform's build extends this class in its tests and says what its
 * platform is ({@link #platform()}); the kit boots Felix with Janus's bundles and the platform bundle and runs each
 * check inside the framework, on the software KVM:
 * <ul>
 *   <li>{@code registration}: the {@code ConfidentialPlatform} service with {@code janus.platform} = its id, from
 *       the bundle under test;</li>
 *   <li>{@code support}: supported on its hardware, with a reason; unsupported elsewhere, with a reason;</li>
 *   <li>{@code validation}: its accepted spec makes a VM; each refusal is reported at its JSON path and creates
 *       nothing;</li>
 *   <li>{@code launch-and-conversions}: in each memory strategy the guest runs to a normal end, converting with none
 *       refused; the measurement the launch reports equals what {@code janus measure} computes from the spec
 *       alone, and so does the digest the modelled firmware computed, where it computes one (SEV-SNP, TDX);</li>
 *   <li>{@code failures-leave-nothing-behind}: each KVM operation of a launch fails in turn; the VM is refused and
 *       no file descriptor, mapping or thread is left;</li>
 *   <li>{@code update-under-a-running-guest}: the bundle is updated to a newer build while a long guest runs; the VM
 *       moves to the new revision and goes on.</li>
 * </ul>
 * The bundles come from the class path: depend on {@code org.janus:org.janus.platform.tck} in test scope, and run the
 * contract where the platform bundle exists (its jar in the integration-test phase, or its classes directory with the
 * manifest bnd writes there).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class PlatformContract {
    /** The checks, in the order they run. */
    public static final List<String> CHECKS = List.of("registration", "support", "validation", "launch-and-conversions",
            "failures-leave-nothing-behind", "update-under-a-running-guest");
    /** The version the update check gives the platform bundle's newer build. */
    public static final String NEWER_VERSION = "99.0.0";

    private TckFramework framework;
    private Path storage;
    private PlatformUnderTest subject;

    /** The platform under test. */
    protected abstract PlatformUnderTest platform();

    /**
     * Where the bundle with {@code symbolicName} is on the class path (its jar, or its classes directory): for a
     * build whose platform bundle is one of its test dependencies.
     */
    public static Path bundleOnClassPath(String symbolicName) {
        try {
            java.net.URL url = TckFramework.bundlesOnClassPath().get(symbolicName);
            if (url == null) throw new IllegalStateException("no bundle " + symbolicName + " on the class path");
            return Path.of(url.toURI());
        } catch (java.io.IOException | java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot look for " + symbolicName + " on the class path: " + e.getMessage(), e);
        }
    }

    @BeforeAll
    void bootFramework() throws Exception {
        subject = platform();
        storage = Files.createTempDirectory("janus-tck-" + subject.id());
        framework = TckFramework.start(subject, storage);
    }

    @AfterAll
    void stopFramework() throws Exception {
        if (framework != null) framework.close();
        if (storage != null) {
            try (Stream<Path> s = Files.walk(storage)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> contract() {
        return CHECKS.stream().map(check -> DynamicTest.dynamicTest(subject.id() + ": " + check, () -> {
            Map<String, Object> s = new LinkedHashMap<>(subject.asMap());
            if (check.equals("update-under-a-running-guest")) {
                s.put("newerBuild", framework.platformWithVersion(NEWER_VERSION));
                s.put("originalBuild", framework.platformBytes());
                s.put("newerVersion", NEWER_VERSION);
            }
            Map<String, Object> result = framework.check(check, s);
            String message = String.valueOf(result.get("message"));
            if (!"passed".equals(result.get("status"))) fail(subject.id() + " " + check + ": " + message);
            System.out.println("tck: " + subject.id() + " " + check + ": " + message);
            assertEquals("passed", result.get("status"));
        }));
    }
}
