package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
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
        JsonObject inPlace = json(dist.janus("host-report", "--json", "--provider", "sim",
                "--profile", "inplace", "--hardware", "amd-snp", "--timeout", "60"));
        assertEquals("sim", inPlace.get("provider").getAsString());
        assertEquals("guest-memfd", strategy(inPlace, "sev-snp"));
        assertEquals("unavailable", strategy(inPlace, "tdx"));

        // The choice is kept in conf/org.janus.kvm.sim.cfg: only the profile changes here.
        Properties cfg = new Properties();
        try (var in = Files.newInputStream(dist.home().resolve("conf/org.janus.kvm.sim.cfg"))) {
            cfg.load(in);
        }
        assertEquals("inplace", cfg.getProperty("profile"));
        assertEquals("amd-snp", cfg.getProperty("hardware"));
        // A generous wait: reconfiguring the sim goes through FileInstall and Config Admin, slow on a loaded machine.
        JsonObject legacy = json(dist.janus("host-report", "--json", "--profile", "7.3", "--timeout", "60"));
        assertEquals("legacy", strategy(legacy, "sev-snp"));
    }

    @Test
    @Order(3)
    void anUnknownOptionIsAUsageError() throws Exception {
        Distribution.Run run = dist.janus("host-report", "--colour");
        assertEquals(2, run.exitCode(), run.toString());
        assertTrue(run.err().contains("unknown option --colour") && run.err().contains("usage: janus"), run.toString());
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
        for (String dir : List.of("bin", "lib", "bundles", "features", "conf", "deploy")) {
            assertTrue(Files.isDirectory(home.resolve(dir)), dir + "/ in the tarball");
        }
        assertTrue(Files.isExecutable(home.resolve("bin/janus")), "bin/janus is executable");
        Distribution.Run help = Distribution.at(home).janus("help");
        assertEquals(0, help.exitCode(), help.toString());
        assertTrue(help.out().contains("host-report"), help.toString());
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
