package org.janus.runtime;

import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code bin/janus}: the command line. Exit codes: 0 done, 1 failed, 2 bad usage.
 */
public final class Cli {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;

    static final String USAGE_TEXT = """
            usage: janus <command> [options]

              host-report [--json] [--provider auto|linux|sim] [--profile P] [--hardware H] [--timeout S]
                  What KVM offers on this host (real /dev/kvm, else the software KVM) and which memory strategy
                  each confidential platform would get, and why. --provider auto prefers the real kernel.
                  --profile (6.12, 7.3, inplace, inplace-off) and --hardware (x86, amd-snp, intel-tdx, arm64,
                  arm64-pkvm) configure the software KVM and imply --provider sim; they are written to
                  conf/org.janus.kvm.sim.cfg, so later runs keep them (values the sim refuses are taken back).
                  --timeout: seconds to wait for the KVM provider (default 20).
              shell [--feature F]...
                  Starts Janus with the Gogo shell (lb, scr:list, ...); `exit 0` or end of input stops it.
              run SPEC.json [--timeout S] [--feature F]...
                  Builds the VM a machine spec describes (examples/ has some), runs it to its end and prints what
                  happened: how the guest ended, exits per vCPU, conversions, memory per region, the launch digest
                  the firmware computed beside the one expected from the spec, console output. Exit code 0 when the guest ended normally (all vCPUs halted, a shutdown, or
                  exit code 0 on port 0xf4), 1 when it did not or the VM could not be built, 2 for a bad command
                  line or a spec with problems (each named with its JSON path). --timeout: seconds the guest may
                  run before it is stopped (default 600). Starts the machine feature too.
              measure SPEC.json
                  Prints the launch digest the VM of a machine spec will have (e.g. the SEV-SNP measurement of its
                  OVMF image, vCPU count and model), computed from the spec alone without building anything: what
                  an attestation report of that VM must carry. Exit code 0 when printed, 1 when the platform
                  measures nothing or the digest cannot be computed, 2 for a spec with problems.
              start [--feature F]...
                  Starts Janus and runs until stopped (SIGTERM or Ctrl-C).
              help
                  This text.

            Features are features/<name>.json; core, sim and linux are always started (run and measure add machine).
            """;

    private static final List<String> BASE_FEATURES = List.of("core", "sim", "linux");

    private final Launcher launcher;
    private final PrintStream out;
    private final PrintStream err;

    Cli(Launcher launcher, PrintStream out, PrintStream err) {
        this.launcher = launcher;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        int code;
        try {
            code = new Cli(new Launcher(home()), System.out, System.err).run(List.of(args));
        } catch (LaunchException e) {
            System.err.println("janus: " + e.getMessage());
            code = FAILED;
        }
        System.out.flush();
        System.exit(code);
    }

    /** {@code -Djanus.home} (set by bin/janus), else the directory above the launcher jar's lib/. */
    static Path home() throws LaunchException {
        String property = System.getProperty("janus.home");
        if (property != null && !property.isBlank()) return Path.of(property);
        try {
            Path jar = Path.of(Cli.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent();
        } catch (URISyntaxException | RuntimeException e) {
            throw new LaunchException("cannot tell the Janus home; set -Djanus.home", e);
        }
    }

    int run(List<String> args) {
        if (args.isEmpty()) {
            err.print(USAGE_TEXT);
            return USAGE;
        }
        List<String> rest = args.subList(1, args.size());
        try {
            return switch (args.get(0)) {
                case "host-report" -> new HostReportCli(launcher, BASE_FEATURES, out, err).run(rest);
                case "shell" -> shell(rest);
                case "run" -> new RunCli(launcher, out, err).run(rest);
                case "measure" -> new MeasureCli(launcher, out, err).run(rest);
                case "start" -> runUntilStopped(rest);
                case "help", "--help", "-h" -> {
                    out.print(USAGE_TEXT);
                    yield OK;
                }
                default -> usage("unknown command " + args.get(0));
            };
        } catch (UsageException e) {
            return usage(e.getMessage());
        } catch (LaunchException e) {
            err.println("janus: " + e.getMessage());
            return FAILED;
        }
    }

    private int usage(String problem) {
        err.println("janus: " + problem);
        err.print(USAGE_TEXT);
        return USAGE;
    }

    private int shell(List<String> args) throws LaunchException, UsageException {
        List<String> features = new ArrayList<>(BASE_FEATURES);
        features.addAll(featureOptions(args));
        if (!features.contains("shell")) features.add("shell");
        // Gogo reads the terminal; at `exit` or end of input it stops the framework itself.
        return runToStop(features, Map.of());
    }

    private int runUntilStopped(List<String> args) throws LaunchException, UsageException {
        List<String> features = new ArrayList<>(BASE_FEATURES);
        features.addAll(featureOptions(args));
        // Should the shell feature be added, Gogo must not read stdin, or end of input would stop everything.
        return runToStop(features, Map.of("gosh.args", "--nointeractive"));
    }

    private int runToStop(List<String> features, Map<String, String> overrides) throws LaunchException {
        Launcher.Started started = launcher.start(features, overrides);
        reportStartFailures(started, err);
        Runtime.getRuntime().addShutdownHook(new Thread(started::stop, "janus-shutdown"));
        try {
            started.framework().waitForStop(0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        started.stop();
        return OK;
    }

    static void reportStartFailures(Launcher.Started started, PrintStream err) {
        for (String failure : started.startFailures()) err.println("janus: bundle did not start: " + failure);
    }

    private static List<String> featureOptions(List<String> args) throws UsageException {
        List<String> features = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--feature") && i + 1 < args.size()) {
                features.add(args.get(++i));
            } else {
                throw new UsageException("unexpected argument " + args.get(i));
            }
        }
        return features;
    }

    /** A command line that cannot be understood; the message says what is wrong. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }
}
