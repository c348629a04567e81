package org.janus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(Path home, String... args) {
        return new Cli(new Launcher(home), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(List.of(args));
    }

    @Test
    void noCommandOrAnUnknownOneIsAUsageError(@TempDir Path home) {
        assertEquals(Cli.USAGE, run(home));
        assertEquals(Cli.USAGE, run(home, "boot"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown command boot"));
        assertEquals(Cli.USAGE, run(home, "host-report", "--provider", "kvm"));
        assertEquals(Cli.USAGE, run(home, "host-report", "--profile"));
        assertEquals(Cli.USAGE, run(home, "host-report", "--provider", "linux", "--profile", "7.3"));
    }

    @Test
    void runNeedsOneExistingSpecAndKnownOptions(@TempDir Path home) throws Exception {
        assertEquals(Cli.USAGE, run(home, "run"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("run: which spec?"), err.toString(StandardCharsets.UTF_8));
        assertEquals(Cli.USAGE, run(home, "run", "a.json", "b.json"));
        assertEquals(Cli.USAGE, run(home, "run", "a.json", "--colour"));
        assertEquals(Cli.USAGE, run(home, "run", "a.json", "--timeout", "-1"));
        assertEquals(Cli.USAGE, run(home, "run", home.resolve("missing.json").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("missing.json is not a file"), err.toString(StandardCharsets.UTF_8));
        assertEquals(List.of("a.json", "--timeout", "2.5"), RunCli.Options.parse(List.of("a.json", "--timeout", "2.5")).commandArguments()
                .stream().map(a -> a.endsWith("a.json") ? "a.json" : a).toList());
    }

    @Test
    void measureNeedsOneExistingSpec(@TempDir Path home) throws Exception {
        assertEquals(Cli.USAGE, run(home, "measure"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("measure: which spec?"), err.toString(StandardCharsets.UTF_8));
        assertEquals(Cli.USAGE, run(home, "measure", "a.json", "b.json"));
        assertEquals(Cli.USAGE, run(home, "measure", "a.json", "--timeout", "1"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("measure: unknown option --timeout"), err.toString(StandardCharsets.UTF_8));
        assertEquals(Cli.USAGE, run(home, "measure", home.resolve("missing.json").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("missing.json is not a file"), err.toString(StandardCharsets.UTF_8));
        assertEquals(Path.of("a.json").toAbsolutePath(), MeasureCli.parse(List.of("a.json")));
    }

    @Test
    void helpGoesToStandardOutput(@TempDir Path home) {
        assertEquals(Cli.OK, run(home, "help"));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("host-report [--json]"));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("measure SPEC.json"));
    }

    @Test
    void aHomeWithoutFeaturesFailsWithTheMissingFile(@TempDir Path home) {
        assertEquals(Cli.FAILED, run(home, "host-report"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains(home.resolve("features").resolve("core.json").toString()),
                err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void hostReportOptionsPassJsonAndProviderToTheCommand() throws Exception {
        HostReportCli.Options o = HostReportCli.Options.parse(
                List.of("--json", "--provider", "sim", "--profile", "inplace", "--hardware", "amd-snp", "--timeout", "2.5"));
        assertEquals(List.of("--json", "--provider", "sim"), o.commandArguments());
        assertEquals("inplace", o.profile());
        assertEquals("amd-snp", o.hardware());
        assertEquals(2500, o.timeoutMillis());
        assertEquals(List.of("--provider", "auto"), HostReportCli.Options.parse(List.of()).commandArguments());
        assertEquals("sim", HostReportCli.Options.parse(List.of("--hardware", "x86")).provider(),
                "a sim option asks for the sim's report");
        assertThrows(Cli.UsageException.class, () -> HostReportCli.Options.parse(List.of("--timeout", "0")));
    }
}
