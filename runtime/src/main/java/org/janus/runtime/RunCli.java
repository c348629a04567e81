package org.janus.runtime;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * {@code janus run SPEC.json}: boots the framework with the machine feature, waits for the
 * {@code janus.command=run} service, hands it the spec, and prints the summary it returns when the VM has ended.
 *
 * <p>The launcher shares no classes with the bundles: the command is a {@code Function<List<String>, String>}.
 * Its summary's last line is the verdict, {@value #RESULT_OK} when the guest ended normally. It throws
 * {@link IllegalArgumentException} for a spec with problems (each listed with its JSON path) and
 * {@link IllegalStateException} for a VM that could not be built.
 *
 * <p>Exit codes: 0 the guest ended normally; 1 it did not (or the VM could not be built or run); 2 a bad command
 * line or a spec with problems.
 */
final class RunCli {
    /** The start of the summary's last line when the guest ended normally (the machine's RunCommand.RESULT_OK). */
    static final String RESULT_OK = "result: ok";
    static final String MACHINE_BUNDLE = "org.janus.machine, feature machine";
    static final List<String> FEATURES = List.of("core", "sim", "linux", "machine");

    private final Launcher launcher;
    private final PrintStream out;
    private final PrintStream err;

    RunCli(Launcher launcher, PrintStream out, PrintStream err) {
        this.launcher = launcher;
        this.out = out;
        this.err = err;
    }

    record Options(Path spec, String timeoutSeconds, List<String> features) {
        static Options parse(List<String> args) throws Cli.UsageException {
            Path spec = null;
            String timeout = null;
            List<String> features = new ArrayList<>();
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                if (a.equals("--timeout") || a.equals("--feature")) {
                    if (i + 1 >= args.size()) throw new Cli.UsageException("run: " + a + " needs a value");
                    String v = args.get(++i);
                    if (a.equals("--feature")) {
                        features.add(v);
                        continue;
                    }
                    try {
                        if (!(Double.parseDouble(v) > 0)) throw new NumberFormatException();
                    } catch (NumberFormatException e) {
                        throw new Cli.UsageException("run: --timeout " + v + ": not a positive number of seconds");
                    }
                    timeout = v;
                } else if (a.startsWith("--")) {
                    throw new Cli.UsageException("run: unknown option " + a);
                } else if (spec == null) {
                    spec = Path.of(a);
                } else {
                    throw new Cli.UsageException("run: one spec at a time (got " + spec + " and " + a + ")");
                }
            }
            if (spec == null) throw new Cli.UsageException("run: which spec? e.g. janus run examples/plain.json");
            return new Options(spec.toAbsolutePath().normalize(), timeout, features);
        }

        List<String> commandArguments() {
            List<String> a = new ArrayList<>(List.of(spec.toString()));
            if (timeoutSeconds != null) a.addAll(List.of("--timeout", timeoutSeconds));
            return a;
        }
    }

    int run(List<String> args) throws LaunchException, Cli.UsageException {
        Options options = Options.parse(args);
        if (!Files.isRegularFile(options.spec())) throw new Cli.UsageException("run: " + options.spec() + " is not a file");
        List<String> features = new ArrayList<>(FEATURES);
        for (String f : options.features()) if (!features.contains(f)) features.add(f);

        Launcher.Started started = launcher.start(features, Map.of("gosh.args", "--nointeractive"));
        Thread hook = new Thread(started::stop, "janus-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            Cli.reportStartFailures(started, err);
            BundleContext context = started.framework().getBundleContext();
            ServiceReference<?> command = CommandServices.await(context, "run", MACHINE_BUNDLE, 20_000);
            return call(context, command, options);
        } finally {
            started.stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is exiting; the hook stops the framework anyway
            }
        }
    }

    private int call(BundleContext context, ServiceReference<?> reference, Options options) throws LaunchException {
        try {
            String summary = CommandServices.apply(context, reference, "run", options.commandArguments());
            out.print(summary.endsWith("\n") ? summary : summary + "\n");
            out.flush();
            String verdict = lastLine(summary);
            if (verdict.startsWith(RESULT_OK)) return Cli.OK;
            err.println("janus: run: the guest did not end normally (" + verdict + ")");
            return Cli.FAILED;
        } catch (IllegalArgumentException e) {
            err.println("janus: run: " + e.getMessage());
            return Cli.USAGE;
        } catch (IllegalStateException e) {
            err.println("janus: run: " + e.getMessage());
            return Cli.FAILED;
        }
    }

    private static String lastLine(String text) {
        List<String> lines = text.strip().lines().toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }
}
