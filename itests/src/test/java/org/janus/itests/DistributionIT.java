package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** bin/janus as a user runs it: a separate JVM on the packaged distribution. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DistributionIT {
    private static Distribution dist;

    @BeforeAll
    static void copyTheDistribution() throws Exception {
        dist = Distribution.copy("dist-under-test");
    }

    @Test
    @Order(1)
    void hostReportOnThisHostExitsZeroAndNamesEveryPlatform() throws Exception {
        Distribution.Run run = dist.janus("host-report");
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().contains("API version    12"), run.toString());
        assertTrue(run.out().contains("Memory strategy per platform"), run.toString());
        for (String platform : List.of("sev-snp", "tdx", "pkvm", "sw-protected", "none")) {
            assertTrue(run.out().contains("\n  " + platform + " "), platform + ": " + run);
        }
        if (!Files.exists(Path.of("/dev/kvm"))) {
            assertTrue(run.out().contains("KVM provider   sim"), run.toString());
        }
    }

    @Test
    @Order(2)
    void profileAndHardwareReachTheSimAndDecideTheStrategy() throws Exception {
        JsonObject inPlace = json(dist.janus("host-report", "--json", "--provider", "sim", "--profile", "inplace", "--hardware", "amd-snp"));
        assertEquals("sim", inPlace.get("provider").getAsString());
        assertEquals("guest-memfd", strategy(inPlace, "sev-snp"));
        assertEquals("unavailable", strategy(inPlace, "tdx"));
        assertEquals(Map.of("profile", "inplace", "hardware", "amd-snp"), simFile());

        // The in-place series as applied, in the build whose module parameter keeps the legacy mode by default.
        JsonObject applied = json(dist.janus("host-report", "--json", "--profile", "7.4"));
        assertEquals("legacy", strategy(applied, "sev-snp"));
        assertEquals("in-place conversion series as applied (7.4), module parameter gmem_in_place_conversion=N: legacy mode "
                + "(VM-wide attributes)", applied.get("kernelBuild").getAsString());

        // The launcher hands the new profile to Config Admin itself and waits for the sim to report it, so this does
        // not depend on when FileInstall scans conf/. The choice is kept in the file: only the profile changes here.
        JsonObject legacy = json(dist.janus("host-report", "--json", "--profile", "7.3"));
        assertEquals("legacy", strategy(legacy, "sev-snp"));
        assertEquals(Map.of("profile", "7.3", "hardware", "amd-snp"), simFile());
        // A run without sim options reports the sim as the file configures it.
        assertEquals("legacy", strategy(json(dist.janus("host-report", "--json", "--provider", "sim")), "sev-snp"));
    }

    @Test
    @Order(3)
    void aProfileTheSimRefusesIsTakenBack() throws Exception {
        // The sim refuses by registering nothing, which no event announces: the launcher waits out its --timeout.
        Distribution.Run run = dist.janus("host-report", "--profile", "9.9", "--timeout", "2");
        assertEquals(1, run.exitCode(), run.toString());
        assertTrue(run.err().contains("no software KVM (sim) with profile=9.9, hardware=amd-snp registered within 2 s"), run.toString());
        assertTrue(run.err().contains("org.janus.kvm.sim.cfg restored to what it was"), run.toString());
        assertEquals(Map.of("profile", "7.3", "hardware", "amd-snp"), simFile());
    }

    @Test
    @Order(3)
    void anUnknownOptionIsOneLineAndExitCodeTwo() throws Exception {
        Distribution.Run run = dist.janus("host-report", "--colour");
        assertEquals(2, run.exitCode(), run.toString());
        assertEquals("janus: host-report: unknown option --colour (janus host-report --help shows the usage)\n", run.err());
        assertEquals("", run.out());
    }

    @Test
    @Order(3)
    void eachCommandHasItsHelp() throws Exception {
        for (String command : List.of("host-report", "run", "measure", "start", "shell")) {
            Distribution.Run run = dist.janus(command, "--help");
            assertEquals(0, run.exitCode(), run.toString());
            assertTrue(run.out().startsWith("Usage: janus " + command), run.toString());
        }
    }

    @Test
    @Order(4)
    void askingForTheRealKernelWithoutDevKvmFailsClearly() throws Exception {
        assumeFalse(Files.exists(Path.of("/dev/kvm")), "this host has /dev/kvm: the linux provider is expected to register");
        Distribution.Run run = dist.janus("host-report", "--provider", "linux", "--timeout", "3");
        assertEquals(1, run.exitCode(), run.toString());
        assertTrue(run.err().contains("no linux KVM provider registered within 3 s"), run.toString());
        assertTrue(run.err().contains("this host has no /dev/kvm"), run.toString());
        assertFalse(run.out().contains("API version"), run.toString());
    }

    @Test
    @Order(5)
    void theReadmesFirstCommandBootsTheSnpExample() throws Exception {
        Path ovmf = ovmf();
        Distribution.Run run = dist.janus("run", dist.home().resolve("examples/snp-inplace.json").toString());
        assertEquals(0, run.exitCode(), run.toString());
        assertTrue(run.out().contains("  measured  equal: the firmware measured what the spec predicts"), run.toString());
        Distribution.Run measure = dist.janus("measure", dist.home().resolve("examples/snp-inplace.json").toString());
        assertEquals(0, measure.exitCode(), measure.toString());
        assertTrue(measure.out().contains("  firmware  " + ovmf + "\n"), "the spec's bare OVMF.fd is " + ovmf + ": " + measure);
    }

    @Test
    @Order(5)
    void aBareFirmwareNameIsLookedUpInTheHomeFirstAndAMissingOneNamesWhereItWasSought() throws Exception {
        Path ovmf = ovmf();
        Path own = dist.home().resolve("firmware/janus-test-OVMF.fd");
        Files.copy(ovmf, own, StandardCopyOption.REPLACE_EXISTING);
        try {
            Path spec = dist.home().resolve("specs/own-firmware.json");
            Files.createDirectories(spec.getParent());
            Files.writeString(spec, Files.readString(dist.home().resolve("examples/snp-inplace.json"))
                    .replace("\"OVMF.fd\"", "\"janus-test-OVMF.fd\""));
            Distribution.Run found = dist.janus("measure", spec.toString());
            assertEquals(0, found.exitCode(), found.toString());
            assertTrue(found.out().contains("  firmware  " + own + "\n"), found.toString());
        } finally {
            Files.delete(own);
        }

        Path spec = dist.home().resolve("specs/missing-firmware.json");
        Files.createDirectories(spec.getParent());
        Files.writeString(spec, Files.readString(dist.home().resolve("examples/snp-inplace.json")).replace("\"OVMF.fd\"", "\"NOPE.fd\""));
        Distribution.Run missing = dist.janus("measure", spec.toString());
        assertEquals(2, missing.exitCode(), missing.toString());
        assertTrue(missing.err().contains("\n  $.images.firmware: " + spec.getParent().resolve("NOPE.fd") + " does not exist, and NOPE.fd is "
                + "not found in " + dist.home().resolve("firmware") + ", /usr/share/ovmf, /usr/share/OVMF\n"), missing.toString());
        assertEquals("", missing.out());
    }

    @Test
    @Order(5)
    void qmpNeedsAnExistingDirectoryAndTheQmpFeature() throws Exception {
        String plain = dist.home().resolve("examples/plain.json").toString();
        Path nowhere = dist.home().resolve("no-such-dir/qmp.sock");
        Distribution.Run bad = dist.janus("run", plain, "--qmp", nowhere.toString());
        assertEquals(2, bad.exitCode(), bad.toString());
        assertTrue(bad.err().startsWith("janus: run: --qmp " + nowhere + ": the directory " + nowhere.getParent() + " does not exist"),
                bad.toString());

        Path socket = dist.home().resolve("qmp.sock");
        Distribution.Run run = dist.janus("run", plain, "--qmp", socket.toString());
        if (Files.exists(dist.home().resolve("features/qmp.json"))) {
            assertEquals(0, run.exitCode(), run.toString());
            assertFalse(run.err().contains("bundle did not start"), run.toString());
        } else {
            assertEquals(1, run.exitCode(), run.toString());
            assertTrue(run.err().startsWith("janus: --qmp: the qmp feature is not installed"), run.toString());
            assertEquals("", run.out());
        }
    }

    @Test
    @Order(5)
    void startWithQmpServesTheProtocolOnThatSocket() throws Exception {
        assumeTrue(Files.exists(dist.home().resolve("features/qmp.json")), "this distribution has no qmp feature");
        Path socket = dist.home().resolve("qmp-start.sock");
        Process janus = dist.start("janus-start-qmp", "start", "--qmp", socket.toString());
        try {
            // The socket appears when the QMP bundle has its configuration; until then there is nothing to connect to.
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(socket)) {
                assertTrue(janus.isAlive(), "janus start ended early: " + Files.readString(Path.of("target/janus-start-qmp.err")));
                assertTrue(System.nanoTime() < deadline, "no " + socket + " within 60 s");
                Thread.sleep(50);
            }
            try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                ByteBuffer greeting = ByteBuffer.allocate(4096);
                while (greeting.position() == 0 || greeting.get(greeting.position() - 1) != '\n') {
                    assertTrue(channel.read(greeting) >= 0, "the socket closed before its greeting");
                }
                String line = new String(greeting.array(), 0, greeting.position(), StandardCharsets.UTF_8);
                assertTrue(line.startsWith("{") && line.contains("\"QMP\""), "a QMP greeting: " + line);
            }
        } finally {
            // SIGTERM: the shutdown hook stops the framework, and the QMP bundle removes its socket.
            janus.toHandle().destroy();
            assertTrue(janus.waitFor(30, TimeUnit.SECONDS), "janus start still running 30 s after SIGTERM");
        }
        assertFalse(Files.exists(socket), socket + " left behind");
    }

    @Test
    @Order(5)
    void theTarballUnpacksIntoARunnableJanusDirectory() throws Exception {
        Path tar = Path.of(System.getProperty("janus.tar", "../runtime/target/janus.tar.gz"));
        assertTrue(Files.isRegularFile(tar), tar + " exists");
        Path into = Path.of("target", "tar-extract").toAbsolutePath();
        Distribution.delete(into);
        Files.createDirectories(into);
        Process untar = new ProcessBuilder("tar", "-xzf", tar.toAbsolutePath().toString(), "-C", into.toString())
                .inheritIO().start();
        assertEquals(0, untar.waitFor());
        Path home = into.resolve("janus");
        for (String dir : List.of("bin", "lib", "bundles", "features", "conf", "deploy", "firmware")) {
            assertTrue(Files.isDirectory(home.resolve(dir)), dir + "/ in the tarball");
        }
        assertTrue(Files.isExecutable(home.resolve("bin/janus")), "bin/janus is executable");
        Distribution.Run help = Distribution.at(home).janus("help");
        assertEquals(0, help.exitCode(), help.toString());
        assertTrue(help.out().contains("Usage: janus host-report"), help.toString());
    }

    /** conf/org.janus.kvm.sim.cfg as properties. */
    private static Map<String, String> simFile() throws Exception {
        Properties cfg = new Properties();
        try (var in = Files.newInputStream(dist.home().resolve("conf/org.janus.kvm.sim.cfg"))) {
            cfg.load(in);
        }
        Map<String, String> values = new TreeMap<>();
        for (String key : cfg.stringPropertyNames()) values.put(key, cfg.getProperty(key));
        return values;
    }

    /**
     * The OVMF.fd the distribution's specs get: its own firmware/ (where the build machine had no Debian ovmf) or
     * the installed one. Without either the test is skipped, except in CI, where it fails.
     */
    private static Path ovmf() {
        for (Path p : List.of(dist.home().resolve("firmware/OVMF.fd"), Path.of("/usr/share/ovmf/OVMF.fd"))) {
            if (Files.isReadable(p)) return p;
        }
        String reason = "no OVMF.fd in " + dist.home().resolve("firmware") + " nor /usr/share/ovmf: the runtime build puts one there "
                + "unless Debian's ovmf is installed or -Djanus.ovmf.skip=true";
        if (System.getenv("CI") != null) fail(reason);
        assumeTrue(false, reason);
        return null;
    }

    private static JsonObject json(Distribution.Run run) {
        assertEquals(0, run.exitCode(), run.toString());
        return JsonParser.parseString(run.out()).getAsJsonObject();
    }

    private static String strategy(JsonObject report, String platform) {
        JsonArray platforms = report.getAsJsonArray("platforms");
        for (JsonElement p : platforms) {
            if (p.getAsJsonObject().get("platform").getAsString().equals(platform)) {
                return p.getAsJsonObject().get("strategy").getAsString();
            }
        }
        throw new AssertionError(platform + " not in " + report);
    }
}
