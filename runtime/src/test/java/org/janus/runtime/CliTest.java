package org.janus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * The command line without a framework: what reaches the launcher, and what bad input gets. A home without
 * features/ makes every command that gets as far as starting Janus fail at once, naming the missing file.
 */
class CliTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private Cli cli(Path home) {
        return new Cli(new Launcher(home), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private int run(Path home, String... args) {
        out.reset();
        err.reset();
        return cli(home).run(List.of(args));
    }

    private String out() { return out.toString(StandardCharsets.UTF_8); }

    private String err() { return err.toString(StandardCharsets.UTF_8); }

    /** The one line an error gets, with the command and where its usage is. */
    private void assertOneLine(String expectedStart) {
        String e = err();
        assertEquals(1, e.lines().count(), e);
        assertTrue(e.startsWith(expectedStart), e);
    }

    @Test
    void noCommandOrAnUnknownOneIsAUsageError(@TempDir Path home) {
        assertEquals(Cli.USAGE, run(home));
        assertOneLine("janus: which command? (janus help shows the usage)");
        assertEquals(Cli.USAGE, run(home, "boot"));
        assertOneLine("janus: unknown command boot");
        assertEquals(Cli.USAGE, run(home, "--colour"));
        assertOneLine("janus: unknown option --colour");
        assertEquals("", out(), "nothing on standard output");
    }

    @ParameterizedTest
    @ValueSource(strings = {"host-report", "run", "measure", "start", "shell"})
    void anUnknownOptionOfEachCommandIsOneLineAndExitCodeTwo(String command, @TempDir Path home) {
        assertEquals(Cli.USAGE, run(home, command, "--colour"));
        assertOneLine("janus: " + command + ": unknown option --colour (janus " + command + " --help shows the usage)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"host-report", "run", "measure", "start", "shell", "help"})
    void helpOfEachCommandGoesToStandardOutput(String command, @TempDir Path home) {
        for (String option : List.of("--help", "-h")) {
            assertEquals(Cli.OK, run(home, command, option));
            assertTrue(out().startsWith("Usage: janus " + command), out());
            assertEquals("", err());
        }
        assertEquals(Cli.OK, run(home, "help", command));
        assertTrue(out().startsWith("Usage: janus " + command), out());
    }

    @Test
    void helpPrintsEveryCommandsUsage(@TempDir Path home) {
        assertEquals(Cli.OK, run(home, "help"));
        String text = out();
        assertTrue(text.startsWith("Usage: janus [-h] [--verbose] COMMAND"), text);
        for (String usage : List.of("Usage: janus host-report", "--json", "--profile=P", "Usage: janus run", "--qmp=PATH",
                "Usage: janus measure", "Usage: janus start", "Usage: janus shell", "Exit codes: 0 done, 1 failed, 2 bad usage")) {
            assertTrue(text.contains(usage), usage + " in\n" + text);
        }
        assertEquals(Cli.USAGE, run(home, "help", "boot"));
        assertOneLine("janus: help: unknown command boot");
    }

    @Test
    void hostReportChecksItsOptionsTogether(@TempDir Path home) {
        assertEquals(Cli.USAGE, run(home, "host-report", "--provider", "kvm"));
        assertOneLine("janus: host-report: --provider kvm: expected auto, linux or sim");
        assertEquals(Cli.USAGE, run(home, "host-report", "--profile"));
        assertOneLine("janus: host-report: missing required parameter for option '--profile'");
        assertEquals(Cli.USAGE, run(home, "host-report", "--provider", "linux", "--profile", "7.3"));
        assertOneLine("janus: host-report: --profile and --hardware configure the sim, not --provider linux");
        for (String bad : List.of("0", "-1", "soon", "NaN")) {
            assertEquals(Cli.USAGE, run(home, "host-report", "--timeout", bad));
            assertOneLine("janus: host-report: invalid value for option '--timeout': '" + bad + "' is not a positive number of seconds");
        }
        assertFalse(Files.exists(home.resolve("conf")), "bad usage changes nothing");
    }

    @Test
    void hostReportOptionsPassJsonAndProviderToTheCommand(@TempDir Path home) {
        HostReportCli.Options o = hostReport(home, "--json", "--provider", "sim", "--profile", "inplace", "--hardware", "amd-snp",
                "--timeout", "2.5");
        assertEquals(List.of("--json", "--provider", "sim"), o.commandArguments());
        assertEquals("inplace", o.profile());
        assertEquals("amd-snp", o.hardware());
        assertEquals(2500, o.timeoutMillis());
        HostReportCli.Options defaults = hostReport(home);
        assertEquals(List.of("--provider", "auto"), defaults.commandArguments());
        assertEquals(20_000, defaults.timeoutMillis());
        assertEquals("sim", hostReport(home, "--hardware", "x86").provider(), "a sim option asks for the sim's report");
    }

    private HostReportCli.Options hostReport(Path home, String... args) {
        CommandLine commandLine = cli(home).commandLine();
        String[] all = new String[args.length + 1];
        all[0] = "host-report";
        System.arraycopy(args, 0, all, 1, args.length);
        CommandLine.ParseResult parsed = commandLine.parseArgs(all);
        return ((HostReportCli) parsed.subcommand().commandSpec().userObject()).options();
    }

    @Test
    void runNeedsOneExistingSpecAndKnownOptions(@TempDir Path home) throws Exception {
        assertEquals(Cli.USAGE, run(home, "run"));
        assertOneLine("janus: run: which spec? e.g. janus run examples/plain.json");
        assertEquals(Cli.USAGE, run(home, "run", "a.json", "b.json"));
        assertOneLine("janus: run: one spec at a time (got a.json and b.json)");
        assertEquals(Cli.USAGE, run(home, "run", "a.json", "--timeout", "-1"));
        assertOneLine("janus: run: invalid value for option '--timeout': '-1' is not a positive number of seconds");
        assertEquals(Cli.USAGE, run(home, "run", home.resolve("missing.json").toString()));
        assertOneLine("janus: run: " + home.resolve("missing.json") + " is not a file");

        Path spec = Files.writeString(home.resolve("a.json"), "{}");
        CommandLine.ParseResult parsed = cli(home).commandLine().parseArgs("run", spec.toString(), "--timeout", "2.5");
        RunCli run = (RunCli) parsed.subcommand().commandSpec().userObject();
        assertEquals(List.of(spec.toString(), "--timeout", "2.5"), run.commandArguments(spec));
    }

    @Test
    void measureNeedsOneExistingSpec(@TempDir Path home) {
        assertEquals(Cli.USAGE, run(home, "measure"));
        assertOneLine("janus: measure: which spec? e.g. janus measure examples/snp-inplace.json");
        assertEquals(Cli.USAGE, run(home, "measure", "a.json", "b.json"));
        assertOneLine("janus: measure: one spec at a time (got a.json and b.json)");
        assertEquals(Cli.USAGE, run(home, "measure", "a.json", "--timeout", "1"));
        assertOneLine("janus: measure: unknown option --timeout");
        assertEquals(Cli.USAGE, run(home, "measure", home.resolve("missing.json").toString()));
        assertOneLine("janus: measure: " + home.resolve("missing.json") + " is not a file");
    }

    @Test
    void aHomeWithoutFeaturesFailsWithTheMissingFile(@TempDir Path home) {
        assertEquals(Cli.FAILED, run(home, "host-report"));
        assertOneLine("janus: no feature core (" + home.resolve("features").resolve("core.json") + " does not exist)");
    }

    @Test
    void verboseAddsTheStackTraceWhereverItIsGiven(@TempDir Path home) {
        for (List<String> args : List.of(List.of("--verbose", "host-report"), List.of("host-report", "--verbose"))) {
            assertEquals(Cli.FAILED, run(home, args.toArray(String[]::new)));
            assertTrue(err().startsWith("janus: no feature core"), err());
            assertTrue(err().contains("LaunchException") && err().contains("\tat org.janus.runtime.Launcher.feature"), err());
        }
        assertEquals(Cli.USAGE, run(home, "run", "--verbose", "--colour"));
        assertTrue(err().startsWith("janus: run: unknown option --colour") && err().contains("\tat picocli."), err());
    }

    @Test
    void qmpNeedsAnExistingDirectoryAndTheQmpFeature(@TempDir Path home) throws Exception {
        Path spec = Files.writeString(home.resolve("a.json"), "{}");
        Path nowhere = home.resolve("no-such-dir").resolve("qmp.sock");
        assertEquals(Cli.USAGE, run(home, "run", spec.toString(), "--qmp", nowhere.toString()));
        assertOneLine("janus: run: --qmp " + nowhere + ": the directory " + nowhere.getParent() + " does not exist");
        assertEquals(Cli.USAGE, run(home, "start", "--qmp", home.toString()));
        assertOneLine("janus: start: --qmp " + home + ": " + home + " is a directory");

        Path socket = home.resolve("qmp.sock");
        assertEquals(Cli.FAILED, run(home, "start", "--qmp", socket.toString()));
        assertOneLine("janus: --qmp: the qmp feature is not installed (" + home.resolve("features/qmp.json") + " does not exist)");
        assertEquals(Cli.FAILED, run(home, "run", spec.toString(), "--qmp", socket.toString()));
        assertOneLine("janus: --qmp: the qmp feature is not installed");

        Files.createDirectories(home.resolve("conf"));
        Files.writeString(home.resolve("conf/org.janus.qmp.cfg"), "socket=/run/janus/qmp.sock\n");
        assertEquals(Cli.USAGE, run(home, "start", "--qmp", socket.toString()));
        assertOneLine("janus: start: --qmp " + socket + ": " + home.resolve("conf/org.janus.qmp.cfg")
                + " configures QMP already; remove it, or leave out --qmp");
        assertNull(QmpSocket.of(null, cli(home).commandLine(), new Launcher(home)), "no option, no socket");
    }

    @Test
    void aRelativeQmpPathIsMadeAbsolute(@TempDir Path home) {
        CommandLine commandLine = cli(home).commandLine();
        QmpSocket socket = QmpSocket.of("qmp.sock", commandLine, new Launcher(home));
        assertEquals(Path.of("qmp.sock").toAbsolutePath(), socket.path());
        assertThrows(ParameterException.class, () -> QmpSocket.of(" ", commandLine, new Launcher(home)));
    }
}
