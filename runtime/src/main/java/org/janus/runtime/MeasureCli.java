package org.janus.runtime;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * {@code janus measure SPEC.json}: boots the framework with the machine feature, hands the spec to the
 * {@code janus.command=measure} service and prints the expected launch digest it computes, without building a VM.
 * The command is a {@code Function<List<String>, String>}, as for {@link RunCli}.
 *
 * <p>Exit codes: 0 the digest was printed; 1 the platform measures nothing or the digest cannot be computed; 2 a bad
 * command line or a spec with problems (each named with its JSON path).
 */
final class MeasureCli {

    private final Launcher launcher;
    private final PrintStream out;
    private final PrintStream err;

    MeasureCli(Launcher launcher, PrintStream out, PrintStream err) {
        this.launcher = launcher;
        this.out = out;
        this.err = err;
    }

    static Path parse(List<String> args) throws Cli.UsageException {
        if (args.isEmpty()) throw new Cli.UsageException("measure: which spec? e.g. janus measure examples/snp-inplace.json");
        for (String a : args) if (a.startsWith("--")) throw new Cli.UsageException("measure: unknown option " + a);
        if (args.size() > 1) throw new Cli.UsageException("measure: one spec at a time (got " + String.join(" ", args) + ")");
        return Path.of(args.get(0)).toAbsolutePath().normalize();
    }

    int run(List<String> args) throws LaunchException, Cli.UsageException {
        Path spec = parse(args);
        if (!Files.isRegularFile(spec)) throw new Cli.UsageException("measure: " + spec + " is not a file");
        Launcher.Started started = launcher.start(RunCli.FEATURES, Map.of("gosh.args", "--nointeractive"));
        Thread hook = new Thread(started::stop, "janus-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            Cli.reportStartFailures(started, err);
            BundleContext context = started.framework().getBundleContext();
            ServiceReference<?> reference = CommandServices.await(context, "measure", RunCli.MACHINE_BUNDLE, 20_000);
            return call(context, reference, spec);
        } finally {
            started.stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is exiting; the hook stops the framework anyway
            }
        }
    }

    private int call(BundleContext context, ServiceReference<?> reference, Path spec) throws LaunchException {
        try {
            String text = CommandServices.apply(context, reference, "measure", List.of(spec.toString()));
            out.print(text.endsWith("\n") ? text : text + "\n");
            out.flush();
            return Cli.OK;
        } catch (IllegalArgumentException e) {
            err.println("janus: measure: " + e.getMessage());
            return Cli.USAGE;
        } catch (IllegalStateException e) {
            err.println("janus: measure: " + e.getMessage());
            return Cli.FAILED;
        }
    }
}
