package org.janus.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code janus host-report}: boots the framework, waits for the KVM provider the options ask for and for the
 * {@code janus.command=host-report} service, calls that service, prints what it returns and stops.
 *
 * <p>The launcher shares no classes with the bundles: it finds services by their properties and calls the
 * command as a {@code java.util.function.Function<List<String>, String>}, whose types come from the JDK.
 *
 * <p>{@code --profile} and {@code --hardware} configure the software KVM: the launcher writes them to
 * {@code conf/org.janus.kvm.sim.cfg} before the framework starts and gives Config Admin the file's configuration once
 * it runs (see {@link SimConfiguration}), then waits until the sim's Kvm service reports the file's profile and
 * hardware. Values the sim refuses leave it without a service; then the file is put back as it was.
 */
@Command(name = "host-report", description = {
    "What KVM offers on this host (the real /dev/kvm, else the software KVM) and which memory strategy each "
            + "confidential platform would get, and why.",
    "--profile (6.12, 7.3, inplace, inplace-off, 7.4, 7.4-inplace, 7.4-novmattr) and --hardware (x86, amd-snp, "
            + "intel-tdx, arm64, arm64-pkvm) configure "
            + "the software KVM and imply --provider sim; they are kept in conf/org.janus.kvm.sim.cfg, so later runs "
            + "keep them (values the sim refuses are taken back)."})
final class HostReportCli implements Callable<Integer> {
    /** The service properties of org.janus.kvm.api.Kvm and org.janus.hostreport.HostReporter, by value. */
    private static final String KVM_CLASS = "org.janus.kvm.api.Kvm";
    private static final String PROVIDER = "janus.kvm.provider";
    private static final String PROFILE = "janus.kvm.profile";
    private static final String HARDWARE = "janus.kvm.hardware";
    private static final String COMMAND_FILTER = CommandServices.filter("host-report");
    private static final long POLL_MS = 25;

    private final Cli cli;

    @Option(names = "--json", description = "Prints the report as JSON.")
    boolean json;

    @Option(names = "--provider", paramLabel = "auto|linux|sim",
            description = "Whose report: auto (the default) prefers the real kernel where /dev/kvm opens.")
    String provider;

    @Option(names = "--profile", paramLabel = "P", description = "The kernel the software KVM behaves as.")
    String profile;

    @Option(names = "--hardware", paramLabel = "H", description = "The host the software KVM behaves as.")
    String hardware;

    @Option(names = "--timeout", paramLabel = "S", converter = Seconds.Converter.class, defaultValue = "20",
            description = "Seconds to wait for the KVM provider (default ${DEFAULT-VALUE}).")
    Seconds timeout;

    @Spec
    CommandSpec spec;

    HostReportCli(Cli cli) {
        this.cli = cli;
    }

    record Options(boolean json, String provider, String profile, String hardware, long timeoutMillis) {
        /** The arguments the in-framework command understands. */
        List<String> commandArguments() {
            List<String> a = new ArrayList<>();
            if (json) a.add("--json");
            a.add("--provider");
            a.add(provider);
            return a;
        }

        boolean configuresSim() {
            return profile != null || hardware != null;
        }
    }

    /** The options as parsed, checked together; a sim option asks for the sim's report. */
    Options options() {
        if (provider != null && !List.of("auto", "linux", "sim").contains(provider)) {
            throw new ParameterException(spec.commandLine(), "--provider " + provider + ": expected auto, linux or sim");
        }
        boolean simOptions = profile != null || hardware != null;
        if (simOptions && "linux".equals(provider)) {
            throw new ParameterException(spec.commandLine(), "--profile and --hardware configure the sim, not --provider linux");
        }
        String chosen = provider != null ? provider : simOptions ? "sim" : "auto";
        return new Options(json, chosen, profile, hardware, timeout.millis());
    }

    @Override
    public Integer call() throws LaunchException {
        Options options = options();
        SimConfiguration sim = new SimConfiguration(cli.launcher.conf());
        String previousSimFile = options.configuresSim() ? sim.update(options.profile(), options.hardware()) : null;
        Map<String, String> simExpected = sim.read();

        // The machine feature brings the installed platforms (and the deployer of core those dropped into deploy/),
        // whose availability on this host the report ends with.
        try (RunningFramework framework = RunningFramework.start(cli.launcher, Cli.features(Cli.BASE_FEATURES, List.of("machine")), cli.err)) {
            BundleContext context = framework.context();
            String want = providerToWaitFor(options.provider());
            ServiceReference<?> command;
            try {
                // FileInstall applies the file too, but at its first scan, whose moment is its own.
                if (sim.exists()) sim.apply(new ConfigAdminClient(context));
                command = awaitReady(context, want, simExpected, options.timeoutMillis(), options.provider());
            } catch (LaunchException notReady) {
                if (!options.configuresSim()) throw notReady;
                // Values the sim refused must not stay in conf/ and break the next run too. Config Admin's copy goes
                // with this framework, whose storage the next run starts without.
                sim.restore(previousSimFile);
                throw new LaunchException(notReady.getMessage() + "\n  " + sim.file()
                        + (previousSimFile == null ? " removed again" : " restored to what it was"), notReady);
            }
            return call(context, command, options);
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
                    cli.err.println("janus: /dev/kvm exists, but no linux KVM provider registered within "
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
            String platforms = installedPlatforms(context, options);
            if (options.json()) {
                com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(report).getAsJsonObject();
                o.add("installedPlatforms", com.google.gson.JsonParser.parseString(platforms));
                report = new com.google.gson.GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o);
            } else {
                report = (report.endsWith("\n") ? report : report + "\n") + "\n" + platforms;
            }
            cli.out.print(report.endsWith("\n") ? report : report + "\n");
            cli.out.flush();
            return Cli.OK;
        } catch (IllegalArgumentException e) {
            cli.fail("host-report: " + e.getMessage(), e);
            return Cli.USAGE;
        } catch (IllegalStateException e) {
            throw new LaunchException("host-report failed: " + e.getMessage(), e);
        }
    }

    /**
     * Every installed platform, its bundle, and whether this host runs it: once the deployer has installed what
     * deploy/ held at the start, from the machine's {@code platforms} command.
     */
    private String installedPlatforms(BundleContext context, Options options) throws LaunchException {
        long deadline = System.nanoTime() + options.timeoutMillis() * 1_000_000;
        while (CommandServices.first(context, "(janus.deploy=scanned)") == null) {
            if (System.nanoTime() > deadline) throw new LaunchException("the deployer did not finish its first scan of deploy/ within "
                    + seconds(options.timeoutMillis()));
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LaunchException("interrupted while waiting for the deployer");
            }
        }
        ServiceReference<?> platforms = CommandServices.await(context, "platforms", "org.janus.machine", options.timeoutMillis());
        List<String> args = new ArrayList<>(List.of("--provider", options.provider()));
        if (options.json()) args.add("--json");
        return CommandServices.apply(context, platforms, "platforms", args);
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
                    .append(new SimConfiguration(cli.launcher.conf()).file()).append(" is logged above");
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

    private static String escape(String value) {
        return ConfigAdminClient.escape(value);
    }
}
