package org.janus.runtime;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;

/**
 * {@code janus host-report}: boots the framework, waits for the KVM provider the options ask for and for the
 * {@code janus.command=host-report} service, calls that service, prints what it returns and stops.
 *
 * <p>The launcher shares no classes with the bundles: it finds services by their properties and calls the
 * command as a {@code java.util.function.Function<List<String>, String>}, whose types come from the JDK.
 */
final class HostReportCli {
    /** The service properties of org.janus.kvm.api.Kvm and org.janus.hostreport.HostReporter, by value. */
    private static final String KVM_CLASS = "org.janus.kvm.api.Kvm";
    private static final String PROVIDER = "janus.kvm.provider";
    private static final String PROFILE = "janus.kvm.profile";
    private static final String HARDWARE = "janus.kvm.hardware";
    private static final String COMMAND_FILTER = CommandServices.filter("host-report");
    private static final long POLL_MS = 25;

    private final Launcher launcher;
    private final List<String> features;
    private final PrintStream out;
    private final PrintStream err;

    HostReportCli(Launcher launcher, List<String> features, PrintStream out, PrintStream err) {
        this.launcher = launcher;
        this.features = features;
        this.out = out;
        this.err = err;
    }

    record Options(boolean json, String provider, String profile, String hardware, long timeoutMillis) {
        static Options parse(List<String> args) throws Cli.UsageException {
            boolean json = false;
            String provider = null;
            String profile = null;
            String hardware = null;
            long timeout = 20_000;
            for (int i = 0; i < args.size(); i++) {
                String arg = args.get(i);
                if (arg.equals("--json")) {
                    json = true;
                    continue;
                }
                if (!List.of("--provider", "--profile", "--hardware", "--timeout").contains(arg)) {
                    throw new Cli.UsageException("host-report: unknown option " + arg);
                }
                if (i + 1 >= args.size()) throw new Cli.UsageException("host-report: " + arg + " needs a value");
                String value = args.get(++i);
                switch (arg) {
                    case "--provider" -> {
                        if (!List.of("auto", "linux", "sim").contains(value)) {
                            throw new Cli.UsageException("host-report: --provider " + value + ": expected auto, linux or sim");
                        }
                        provider = value;
                    }
                    case "--profile" -> profile = value;
                    case "--hardware" -> hardware = value;
                    default -> {
                        try {
                            timeout = Math.round(Double.parseDouble(value) * 1000);
                        } catch (NumberFormatException e) {
                            throw new Cli.UsageException("host-report: --timeout " + value + ": not a number of seconds");
                        }
                        if (timeout <= 0) throw new Cli.UsageException("host-report: --timeout must be positive");
                    }
                }
            }
            boolean simOptions = profile != null || hardware != null;
            if (simOptions && "linux".equals(provider)) {
                throw new Cli.UsageException("host-report: --profile and --hardware configure the sim, not --provider linux");
            }
            // Asking for a sim profile or hardware means asking for the sim's report.
            if (provider == null) provider = simOptions ? "sim" : "auto";
            return new Options(json, provider, profile, hardware, timeout);
        }

        /** The arguments the in-framework command understands. */
        List<String> commandArguments() {
            List<String> a = new ArrayList<>();
            if (json) a.add("--json");
            a.add("--provider");
            a.add(provider);
            return a;
        }
    }

    int run(List<String> args) throws LaunchException, Cli.UsageException {
        Options options = Options.parse(args);
        SimConfiguration sim = new SimConfiguration(launcher.conf());
        boolean simChanged = options.profile() != null || options.hardware() != null;
        String previousSimFile = simChanged ? sim.update(options.profile(), options.hardware()) : null;
        Map<String, String> simExpected = sim.read();

        Launcher.Started started = launcher.start(features, Map.of("gosh.args", "--nointeractive"));
        Framework framework = started.framework();
        Thread hook = new Thread(started::stop, "janus-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            Cli.reportStartFailures(started, err);
            BundleContext context = framework.getBundleContext();
            String want = providerToWaitFor(options.provider());
            ServiceReference<?> command;
            try {
                command = awaitReady(context, want, simExpected, options.timeoutMillis(), options.provider());
            } catch (LaunchException notReady) {
                if (!simChanged || !want.equals("sim")) throw notReady;
                // Values the sim refused must not stay in conf/ and break the next run too.
                sim.restore(previousSimFile);
                throw new LaunchException(notReady.getMessage() + "\n  " + sim.file()
                        + (previousSimFile == null ? " removed again" : " restored to what it was"), notReady);
            }
            return call(context, command, options);
        } finally {
            started.stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The JVM is already exiting; the hook stops the framework, which is done anyway.
            }
        }
    }

    /**
     * Which provider to wait for. For {@code auto}: the real kernel where /dev/kvm is there for reading and
     * writing (the linux provider registers only where it opens), else the sim.
     */
    private static String providerToWaitFor(String provider) {
        if (!provider.equals("auto")) return provider;
        Path devKvm = Path.of("/dev/kvm");
        return Files.isReadable(devKvm) && Files.isWritable(devKvm) ? "linux" : "sim";
    }

    private ServiceReference<?> awaitReady(BundleContext context, String provider, Map<String, String> simExpected,
            long timeoutMillis, String requested) throws LaunchException {
        String kvmFilter = kvmFilter(provider, simExpected);
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (true) {
            ServiceReference<?> command = CommandServices.first(context, COMMAND_FILTER);
            boolean providerReady = CommandServices.first(context, kvmFilter) != null;
            if (command != null && providerReady) return command;
            if (System.nanoTime() > deadline) {
                // auto on a host with /dev/kvm whose linux provider never came: the sim still answers.
                if (command != null && requested.equals("auto") && provider.equals("linux")
                        && CommandServices.first(context, kvmFilter("sim", simExpected)) != null) {
                    err.println("janus: /dev/kvm exists, but no linux KVM provider registered within "
                            + seconds(timeoutMillis) + "; reporting the software KVM");
                    return command;
                }
                throw new LaunchException(notReady(context, provider, simExpected, timeoutMillis, command != null));
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LaunchException("interrupted while waiting for the KVM provider");
            }
        }
    }

    private int call(BundleContext context, ServiceReference<?> reference, Options options) throws LaunchException {
        try {
            String report = CommandServices.apply(context, reference, "host-report", options.commandArguments());
            out.print(report.endsWith("\n") ? report : report + "\n");
            out.flush();
            return Cli.OK;
        } catch (IllegalArgumentException e) {
            err.println("janus: host-report: " + e.getMessage());
            return Cli.USAGE;
        } catch (IllegalStateException e) {
            throw new LaunchException("host-report failed: " + e, e);
        }
    }

    private static String kvmFilter(String provider, Map<String, String> simExpected) {
        StringBuilder f = new StringBuilder("(&(" + Constants.OBJECTCLASS + "=" + KVM_CLASS + ")(" + PROVIDER + "=" + provider + ")");
        if (provider.equals("sim")) {
            String profile = simExpected.get(SimConfiguration.PROFILE);
            String hardware = simExpected.get(SimConfiguration.HARDWARE);
            if (profile != null) f.append('(').append(PROFILE).append('=').append(escape(profile)).append(')');
            if (hardware != null) f.append('(').append(HARDWARE).append('=').append(escape(hardware)).append(')');
        }
        return f.append(')').toString();
    }

    private String notReady(BundleContext context, String provider, Map<String, String> simExpected, long timeoutMillis,
            boolean commandPresent) {
        StringBuilder m = new StringBuilder();
        List<ServiceReference<?>> providers = CommandServices.all(context, "(" + Constants.OBJECTCLASS + "=" + KVM_CLASS + ")");
        if (provider.equals("linux")) {
            m.append("no linux KVM provider registered within ").append(seconds(timeoutMillis))
                    .append(" (it registers only where /dev/kvm opens");
            m.append(Files.exists(Path.of("/dev/kvm")) ? "; /dev/kvm exists: check its permissions)" : "; this host has no /dev/kvm)");
        } else if (!simExpected.isEmpty()) {
            m.append("no software KVM (sim) with ").append(format(simExpected)).append(" registered within ")
                    .append(seconds(timeoutMillis)).append("; an invalid value in ")
                    .append(new SimConfiguration(launcher.conf()).file()).append(" is logged above");
        } else {
            m.append("no software KVM (sim) registered within ").append(seconds(timeoutMillis));
        }
        if (!providers.isEmpty()) {
            m.append("\n  KVM providers registered: ").append(providers.stream().map(HostReportCli::describe)
                    .collect(Collectors.joining("; ")));
        }
        if (!commandPresent) m.append("\n  the host-report command (bundle org.janus.hostreport) is not registered");
        List<String> inactive = Arrays.stream(context.getBundles())
                .filter(b -> b.getBundleId() != 0 && b.getState() != Bundle.ACTIVE
                        && b.getHeaders().get(Constants.FRAGMENT_HOST) == null)
                .map(b -> b.getSymbolicName() + " (" + state(b.getState()) + ")")
                .toList();
        if (!inactive.isEmpty()) m.append("\n  bundles not active: ").append(String.join(", ", inactive));
        return m.toString();
    }

    private static String describe(ServiceReference<?> r) {
        return r.getProperty(PROVIDER) + (r.getProperty(PROFILE) == null ? ""
                : " profile=" + r.getProperty(PROFILE) + " hardware=" + r.getProperty(HARDWARE));
    }

    private static String format(Map<String, String> values) {
        return values.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
    }

    private static String seconds(long millis) {
        return (millis % 1000 == 0 ? String.valueOf(millis / 1000) : String.valueOf(millis / 1000.0)) + " s";
    }

    private static String state(int state) {
        return switch (state) {
            case Bundle.INSTALLED -> "INSTALLED: not resolved";
            case Bundle.RESOLVED -> "RESOLVED: not started";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            case Bundle.UNINSTALLED -> "UNINSTALLED";
            default -> "state " + state;
        };
    }

    /** RFC 1960 filter value escaping. */
    private static String escape(String value) {
        return value.replace("\\", "\\\\").replace("*", "\\*").replace("(", "\\(").replace(")", "\\)");
    }
}
