package org.janus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's Config Admin access on a real Felix with Felix Config Admin and FileInstall (the jars of this
 * module's runtime dependencies), in a home made for the test.
 */
class ConfigAdminClientTest {
    private static final long WAIT_MS = 20_000;

    /** A home whose feature "cm" holds Config Admin and FileInstall, watching conf/ as the distribution does. */
    private static Launcher home(Path home) throws Exception {
        Path bundles = Files.createDirectories(home.resolve("bundles"));
        StringBuilder ids = new StringBuilder();
        for (String type : List.of("org.apache.felix.cm.impl.ConfigurationManager", "org.apache.felix.fileinstall.internal.FileInstall")) {
            Path jar = Path.of(Class.forName(type, false, ConfigAdminClientTest.class.getClassLoader()).getProtectionDomain().getCodeSource().getLocation().toURI());
            // <artifactId>-<version>.jar in the local repository: the launcher's bundle file naming already.
            String name = jar.getFileName().toString();
            Files.copy(jar, bundles.resolve(name));
            String artifactAndVersion = name.substring(0, name.length() - ".jar".length());
            int dash = artifactAndVersion.lastIndexOf('-');
            if (ids.length() > 0) ids.append(", ");
            ids.append("{ \"id\": \"org.apache.felix:").append(artifactAndVersion, 0, dash).append(':')
                    .append(artifactAndVersion.substring(dash + 1)).append("\" }");
        }
        Files.createDirectories(home.resolve("features"));
        Files.writeString(home.resolve("features/cm.json"), "{ \"id\": \"test:cm:1\", \"framework-properties\": "
                + "{ \"felix.fileinstall.noInitialDelay\": \"true\", \"felix.fileinstall.poll\": \"100\" }, \"bundles\": [ " + ids + " ] }");
        Files.createDirectories(home.resolve("conf"));
        return new Launcher(home);
    }

    @Test
    void anUpdateWithTheSamePropertiesChangesNothing(@TempDir Path dir) throws Exception {
        Launcher.Started started = home(dir).start(List.of("cm"), Map.of());
        try {
            ConfigAdminClient cm = new ConfigAdminClient(started.framework().getBundleContext());
            assertEquals(Map.of(), cm.properties("org.janus.test"));
            assertTrue(cm.update("org.janus.test", Map.of("socket", "/run/a.sock")));
            assertFalse(cm.update("org.janus.test", Map.of("socket", "/run/a.sock")));
            assertTrue(cm.update("org.janus.test", Map.of("socket", "/run/b.sock")));
            Map<String, Object> p = cm.properties("org.janus.test");
            assertEquals("/run/b.sock", p.get("socket"));
            assertEquals("org.janus.test", p.get("service.pid"));
        } finally {
            started.stop();
        }
    }

    @Test
    void theSimFileReachesConfigAdminExactlyAsFileInstallPutsIt(@TempDir Path dir) throws Exception {
        Launcher launcher = home(dir);
        SimConfiguration sim = new SimConfiguration(launcher.conf());
        sim.update("7.3", "intel-tdx");
        Files.writeString(sim.file(), Files.readString(sim.file()) + "note=a\\\\b\n");
        Launcher.Started started = launcher.start(List.of("cm"), Map.of());
        try {
            ConfigAdminClient cm = new ConfigAdminClient(started.framework().getBundleContext());
            // Let FileInstall come first, then the launcher's copy must find nothing to change: neither the values
            // nor FileInstall's record of the file, by which FileInstall in turn knows the configuration as its own.
            Map<String, Object> fromFileInstall = awaitConfiguration(cm, SimConfiguration.PID);
            assertFalse(sim.apply(cm), "the launcher's configuration differs from FileInstall's: " + fromFileInstall);
            assertEquals(Map.of("service.pid", SimConfiguration.PID, "profile", "7.3", "hardware", "intel-tdx", "note", "a\\b",
                    ConfigAdminClient.FILEINSTALL_FILENAME, sim.fileInstallKey()), cm.properties(SimConfiguration.PID));
        } finally {
            started.stop();
        }
    }

    /** Polls until the configuration exists: FileInstall's first scan happens on its own thread. */
    private static Map<String, Object> awaitConfiguration(ConfigAdminClient cm, String pid) throws Exception {
        long deadline = System.nanoTime() + WAIT_MS * 1_000_000;
        while (true) {
            Map<String, Object> p = cm.properties(pid);
            if (!p.isEmpty()) return p;
            if (System.nanoTime() > deadline) throw new AssertionError("FileInstall did not create " + pid + " within " + WAIT_MS + " ms");
            Thread.sleep(20);
        }
    }
}
