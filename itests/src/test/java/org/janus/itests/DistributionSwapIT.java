package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packaged distribution as a user runs it: {@code bin/janus run SPEC --qmp PATH} starts a long conversion
 * storm; a QMP client nobody here wrote (QEMU's {@code qemu.qmp}, {@code src/test/qmp/swap_watch.py}) watches it
 * while a newer build of the platform bundle is copied into {@code deploy/}: the VM pauses, moves to the new
 * version and resumes, converts on with nothing refused, and {@code quit} ends it. The storm checks every word it
 * wrote after each conversion, so a lost or mixed-up page would have failed the VM.
 */
class DistributionSwapIT {
    static final String NEW_VERSION = "7.0.0";

    @BeforeAll
    static void qemuQmpIsThere() throws Exception {
        QmpIT.Run ensure = QmpIT.run(List.of(QmpIT.QMP_DIR.resolve("ensure-qemu-qmp.sh").toString()), null, 1200);
        String why = "Debian's python3-qemu-qmp cannot be had: " + ensure;
        if (ensure.exit() != 0) {
            if (System.getenv("CI") != null && !System.getenv("CI").isEmpty()) fail(why);
            assumeTrue(false, why);
        }
    }

    @Test
    void aNewPlatformVersionDroppedIntoDeployTakesOverARunningVmSeenOverQmp() throws Exception {
        Distribution dist = Distribution.copy("dist-swap");
        Path runDir = Files.createTempDirectory("janus-swap");
        Path socket = runDir.resolve("qmp.sock");
        Path spec = runDir.resolve("storm.json");
        Files.writeString(spec, """
                { "name": "storm",
                  "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
                  "platform": { "id": "sw-protected" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "low", "gpa": 0, "size": "64M" } ] },
                  "vcpus": { "count": 2 },
                  "guest": { "program": "conversion-storm", "options": { "iterations": 1000000, "sizes": [ "4K", "2M" ], "pagesPerRange": 4 } } }
                """);
        byte[] newer = HotSwapIT.withVersion("org.janus.platform.swprotected", NEW_VERSION);

        Process janus = dist.start("dist-swap-run", "run", spec.toString(), "--qmp", socket.toString(), "--timeout", "300");
        ProcessBuilder pb = new ProcessBuilder(QmpIT.PYTHON, QmpIT.QMP_DIR.resolve("swap_watch.py").toString(), socket.toString(), NEW_VERSION)
                .redirectErrorStream(true);
        pb.environment().put("PYTHONUNBUFFERED", "1");
        Process watch = pb.start();
        watch.getOutputStream().close();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(watch.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                lines.add(line);
                // The watcher has seen the VM converting on the old platform: drop the newer build.
                if (line.equals("ready")) Files.write(dist.home().resolve("deploy/org.janus.platform.swprotected-" + NEW_VERSION + ".jar"), newer);
            }
        }
        boolean watched = watch.waitFor(120, TimeUnit.SECONDS) && watch.exitValue() == 0;
        // Only the watcher's quit ends the storm: when the watcher failed, end Janus here.
        boolean ended = janus.waitFor(watched ? 60 : 0, TimeUnit.SECONDS);
        if (!ended) {
            janus.destroy();
            janus.waitFor(20, TimeUnit.SECONDS);
        }
        String runOut = Files.readString(Path.of("target", "dist-swap-run.out"));
        String runErr = Files.readString(Path.of("target", "dist-swap-run.err"));
        String all = String.join("\n", lines) + "\n--- janus run stdout\n" + runOut + "--- stderr\n" + runErr;
        assertTrue(watched, all);
        assertTrue(lines.contains("ready") && lines.stream().noneMatch(l -> l.startsWith("not ok")), all);
        assertTrue(ended, "janus run ended after quit\n" + all);
        // quit stopped the VM from the host: not the guest's own end, so exit code 1; nothing failed.
        assertEquals(1, janus.exitValue(), all);
        assertFalse(runErr.contains("refused"), "the distribution's deploy/ holds nothing the deployer refuses\n" + all);
        assertFalse(runOut.contains("FAILED"), all);
        assertFalse(Files.exists(socket), "the socket is removed when Janus ends");
    }
}
