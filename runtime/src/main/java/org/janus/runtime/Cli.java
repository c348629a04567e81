package org.janus.runtime;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code bin/janus}: the command line, parsed by picocli. Exit codes: 0 done, 1 failed, 2 bad usage (and for run and
 * measure, a spec with problems); {@code run} also 3 and 4 for a Linux guest that rebooted or panicked. Every error is one line starting {@code janus:}; {@code --verbose} adds the stack
 * trace of its cause.
 */
@Command(name = "janus", synopsisSubcommandLabel = "COMMAND",
        description = "Janus, a virtual machine monitor for confidential VMs on Linux KVM, assembled from OSGi bundles "
                + "in Apache Felix. Without /dev/kvm it runs on its software KVM.",
        footer = {"", "Exit codes: 0 done, 1 failed, 2 bad usage (run and measure: a spec with problems); run: 3 a Linux "
                + "guest rebooted, 4 it panicked.",
                "Features are features/<name>.json; core, sim and linux are always started (run and measure add machine).",
                "janus help prints the usage of every command; janus COMMAND --help that of one."})
public final class Cli implements Callable<Integer> {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;

    static final List<String> BASE_FEATURES = List.of("core", "sim", "linux");

    final Launcher launcher;
    final PrintStream out;
    final PrintStream err;

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "On an error, print the stack trace of its cause too.")
    boolean verbose;

    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Print this command's usage.")
    boolean help;

    @Spec
    CommandSpec spec;

    Cli(Launcher launcher, PrintStream out, PrintStream err) {
        this.launcher = launcher;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        int code;
        try {
            Path home = home();
            // Bundles that look for files in the home (the machine's firmware search) read it from here.
            if (System.getProperty(Launcher.JANUS_HOME) == null) System.setProperty(Launcher.JANUS_HOME, home.toString());
            code = new Cli(new Launcher(home), System.out, System.err).run(List.of(args));
        } catch (LaunchException e) {
            System.err.println("janus: " + e.getMessage());
            code = FAILED;
        }
        System.out.flush();
        System.exit(code);
    }

    /** {@code -Djanus.home} (set by bin/janus), else the directory above the launcher jar's lib/. */
    static Path home() throws LaunchException {
        String property = System.getProperty(Launcher.JANUS_HOME);
        if (property != null && !property.isBlank()) return Path.of(property);
        try {
            Path jar = Path.of(Cli.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent();
        } catch (URISyntaxException | RuntimeException e) {
            throw new LaunchException("cannot tell the Janus home; set -Djanus.home", e);
        }
    }

    int run(List<String> args) {
        return commandLine().execute(args.toArray(String[]::new));
    }

    /** The command line with every command, writing to this Cli's streams, without colours. */
    CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(this);
        commandLine.addSubcommand(new HostReportCli(this));
        commandLine.addSubcommand(new RunCli(this));
        commandLine.addSubcommand(new MeasureCli(this));
        commandLine.addSubcommand(new StartCli(this));
        commandLine.addSubcommand(new ShellCli(this));
        commandLine.addSubcommand(new HelpCli(this));
        commandLine.setColorScheme(Help.defaultColorScheme(Help.Ansi.OFF));
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        commandLine.setParameterExceptionHandler(this::badUsage);
        commandLine.setExecutionExceptionHandler(this::failed);
        return commandLine;
    }

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "which command?");
    }

    /** One line: the command, what is wrong, and where its usage is. */
    private int badUsage(ParameterException e, String[] args) {
        CommandLine command = e.getCommandLine();
        boolean top = command.getParent() == null;
        String name = top ? "" : command.getCommandName() + ": ";
        String help = top ? "janus help" : "janus " + command.getCommandName() + " --help";
        err.println("janus: " + name + problem(e, top) + " (" + help + " shows the usage)");
        if (verbose) e.printStackTrace(err);
        err.flush();
        return USAGE;
    }

    private static String problem(ParameterException e, boolean top) {
        if (e instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            String arg = u.getUnmatched().get(0);
            if (arg.startsWith("-")) return "unknown option " + arg;
            return (top ? "unknown command " : "unexpected argument ") + arg;
        }
        String m = e.getMessage();
        return m.isEmpty() ? m : Character.toLowerCase(m.charAt(0)) + m.substring(1);
    }

    /** A command that failed: its one line, and with --verbose the stack trace of the cause. */
    private int failed(Exception e, CommandLine command, ParseResult parsed) {
        if (e instanceof LaunchException) {
            fail(e.getMessage(), e.getCause() != null ? e.getCause() : e);
        } else {
            fail("unexpected failure: " + e, e);
        }
        return FAILED;
    }

    /** Prints {@code janus: line}, and with --verbose the stack trace of {@code cause}. */
    void fail(String line, Throwable cause) {
        err.println("janus: " + line);
        if (verbose && cause != null) cause.printStackTrace(err);
        err.flush();
    }

    static void reportStartFailures(Launcher.Started started, PrintStream err) {
        for (String failure : started.startFailures()) err.println("janus: bundle did not start: " + failure);
    }

    /** The base features, then those asked for, each once. */
    static List<String> features(List<String> first, List<String> more) {
        List<String> features = new ArrayList<>(first);
        for (String f : more) if (!features.contains(f)) features.add(f);
        return features;
    }

    /**
     * Runs Janus until the framework stops: by SIGTERM or Ctrl-C (the shutdown hook), or by Gogo's {@code exit}.
     */
    int runUntilStopped(List<String> features, Map<String, String> overrides, QmpSocket qmp) throws LaunchException {
        Launcher.Started started = launcher.start(features, overrides);
        reportStartFailures(started, err);
        Runtime.getRuntime().addShutdownHook(new Thread(started::stop, "janus-shutdown"));
        if (qmp != null) {
            try {
                qmp.configure(new ConfigAdminClient(started.framework().getBundleContext()));
            } catch (LaunchException e) {
                started.stop();
                throw e;
            }
        }
        try {
            started.framework().waitForStop(0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        started.stop();
        return OK;
    }
}
