package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.janus.runtime.Launcher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * The QMP socket in Felix, driven by a client nobody here wrote: QEMU's own Python library, Debian's
 * python3-qemu-qmp ({@code qemu.qmp} and {@code qmp-shell}). The distribution's machine and qmp features start on an
 * embedded Felix with {@code conf/org.janus.qmp.cfg} naming the socket (FileInstall gives it to Config Admin); a
 * conversion-storm VM is created through the real VmManager; {@code qmp-shell} and then {@code qmp_check.py} (in
 * src/test/qmp/) talk to it. The library is installed when missing ({@code ensure-qemu-qmp.sh}); where it cannot be,
 * the test is skipped, except in CI (CI set), where it fails.
 */
class QmpIT {
    static final Path QMP_DIR = Path.of("src/test/qmp").toAbsolutePath();
    static final String PYTHON = "/usr/bin/python3";

    @BeforeAll
    static void qemuQmpIsThere() throws Exception {
        Run ensure = run(List.of(QMP_DIR.resolve("ensure-qemu-qmp.sh").toString()), null, 1200);
        String why = "Debian's python3-qemu-qmp cannot be had: " + ensure;
        if (ensure.exit() != 0) {
            if (System.getenv("CI") != null && !System.getenv("CI").isEmpty()) fail(why);
            assumeTrue(false, why);
        }
    }

    @Test
    void qemusClientLibraryDrivesAVmThroughTheSocket() throws Exception {
        Distribution dist = Distribution.copy("dist-qmp");
        // Unix socket paths are short (108 bytes): keep it out of the deep build directory.
        Path runDir = Files.createTempDirectory("janus-qmp");
        Path socket = runDir.resolve("qmp.sock");
        Files.writeString(dist.home().resolve("conf/org.janus.qmp.cfg"), "socket=" + socket + "\n");
        Path spec = runDir.resolve("storm.json");
        Files.writeString(spec, """
                { "name": "storm",
                  "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
                  "platform": { "id": "sw-protected" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "low", "gpa": 0, "size": "64M" },
                                                                { "name": "high", "gpa": "1G", "size": "16M" } ] },
                  "vcpus": { "count": 2 },
                  "guest": { "program": "conversion-storm",
                             "options": { "seed": 11, "iterations": 1000000, "sizes": [ "4K", "2M" ], "pagesPerRange": 2 } } }
                """);

        Launcher.Started started = new Launcher(dist.home()).start(List.of("core", "sim", "linux", "machine", "qmp"),
                Map.of("gosh.args", "--nointeractive"));
        try {
            assertEquals(List.of(), started.startFailures());
            awaitSocket(socket);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));
            String vm = createVm(started.framework().getBundleContext(), spec);

            Run shell = run(List.of("qmp-shell", "-p", socket.toString()), "query-status\n__org.janus_query-vms\nquery-version\n", 120);
            System.out.println("qmp-shell:\n" + shell);
            assertEquals(0, shell.exit(), shell.toString());
            assertTrue(shell.out().contains("Connected to QEMU 8.2.0"), shell.toString());
            assertTrue(shell.out().contains("\"status\": \"prelaunch\""), shell.toString());
            assertTrue(shell.out().contains("\"vm\": \"" + vm + "\""), shell.toString());
            assertTrue(shell.out().contains("\"package\": \"janus 0.1.0"), shell.toString());

            Run check = run(List.of(PYTHON, QMP_DIR.resolve("qmp_check.py").toString(), socket.toString(), vm), null, 300);
            System.out.println("qmp_check.py:\n" + check);
            assertEquals(0, check.exit(), check.toString());
            assertFalse(check.out().contains("not ok"), check.toString());
            assertTrue(check.out().strip().endsWith("checks ok"), check.toString());
        } finally {
            started.stop();
        }
        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "the socket file goes with the framework");
        Distribution.delete(runDir);
    }

    private static void awaitSocket(Path socket) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            if (System.nanoTime() > deadline) fail("no QMP socket at " + socket + " within 60 s");
            Thread.sleep(50);
        }
    }

    /**
     * Creates the VM of a spec file with the framework's VmManager (its API classes live in the framework, so
     * through reflection on the machine bundle's own classes); it stays created (QMP's prelaunch) until cont.
     */
    private static String createVm(BundleContext context, Path spec) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        // getAllServiceReferences: the test's class path has its own copy of the machine's API, which the
        // assignability check of getServiceReference would hold against the framework's.
        ServiceReference<?>[] refs;
        while ((refs = context.getAllServiceReferences("org.janus.machine.VmManager", null)) == null) {
            if (System.nanoTime() > deadline) fail("no VmManager within 60 s");
            Thread.sleep(50);
        }
        ServiceReference<?> ref = refs[0];
        Bundle machine = ref.getBundle();
        Class<?> managerType = machine.loadClass("org.janus.machine.VmManager");
        Class<?> specType = machine.loadClass("org.janus.machine.MachineSpec");
        Object manager = context.getService(ref);
        assertNotNull(manager);
        Object parsed = specType.getMethod("read", Path.class).invoke(null, spec);
        // The services a spec names may still be registering: wait for them as janus run does.
        while (true) {
            try {
                return (String) managerType.getMethod("create", specType).invoke(manager, parsed);
            } catch (java.lang.reflect.InvocationTargetException e) {
                if (System.nanoTime() > deadline) throw e;
                Thread.sleep(200);
            }
        }
    }

    record Run(int exit, String out, String err) {
        @Override public String toString() { return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err; }
    }

    static Run run(List<String> command, String input, long timeoutSeconds) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command);
        Path out = Files.createTempFile("qmp-it", ".out");
        Path err = Files.createTempFile("qmp-it", ".err");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("PYTHONUNBUFFERED", "1");
        Process p = pb.start();
        try (var stdin = p.getOutputStream()) {
            if (input != null) stdin.write(input.getBytes(StandardCharsets.UTF_8));
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor();
        }
        Run r = new Run(p.isAlive() ? -1 : p.exitValue(), Files.readString(out), Files.readString(err));
        Files.delete(out);
        Files.delete(err);
        return r;
    }
}
