package org.janus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeatureTest {
    /** The features of this build, filtered by Maven (surefire sets features.dir). */
    private static final Path FEATURES = Path.of(System.getProperty("features.dir", "target/features"));

    @Test
    void theBuildsFeaturesHaveEveryVersionFilledIn() throws Exception {
        for (String name : List.of("core", "sim", "linux", "shell", "machine", "qmp")) {
            Feature f = Feature.read(FEATURES.resolve(name + ".json"));
            assertEquals("org.janus:" + name, f.id().substring(0, f.id().lastIndexOf(':')));
            assertTrue(!f.bundles().isEmpty(), name + " has bundles");
            for (String id : f.bundles()) {
                assertTrue(id.split(":")[2].matches("\\d.*"), name + ": " + id + " has a version");
            }
        }
    }

    @Test
    void coreInstallsScrWithItsApiBundlesBeforeTheJanusBundles() throws Exception {
        List<String> bundles = Feature.read(FEATURES.resolve("core.json")).bundles().stream()
                .map(id -> id.split(":")[1]).toList();
        assertEquals(List.of("org.osgi.util.function", "org.osgi.util.promise", "org.osgi.service.component",
                "org.apache.felix.scr", "org.apache.felix.configadmin", "org.apache.felix.fileinstall", "gson", "jna",
                "org.janus.kvm.api", "org.janus.kvm.libc", "org.janus.hostreport", "org.janus.deploy"), bundles);
    }

    @Test
    void aBundleIdMapsToArtifactDashVersionInTheBundlesDirectory() throws Exception {
        Path bundles = Path.of("/opt/janus/bundles");
        assertEquals(bundles.resolve("org.apache.felix.scr-2.2.18.jar"),
                Feature.bundleFile(bundles, "org.apache.felix:org.apache.felix.scr:2.2.18"));
        assertThrows(LaunchException.class, () -> Feature.bundleFile(bundles, "org.apache.felix.scr"));
    }

    @Test
    void frameworkPropertiesAreRead(@TempDir Path dir) throws Exception {
        Path file = write(dir, """
                { "id": "g:f:1", "framework-properties": { "a": "1", "b": 2 },
                  "bundles": [ { "id": "g:x:1.0" } ] }""");
        Feature f = Feature.read(file);
        assertEquals("1", f.frameworkProperties().get("a"));
        assertEquals("2", f.frameworkProperties().get("b"));
        assertEquals(List.of("g:x:1.0"), f.bundles());
    }

    @Test
    void anUnfilteredVersionOrMissingBundlesIsRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        Path unfiltered = write(dir, "{ \"id\": \"g:f:1\", \"bundles\": [ { \"id\": \"g:x:${x.version}\" } ] }");
        LaunchException e = assertThrows(LaunchException.class, () -> Feature.read(unfiltered));
        assertTrue(e.getMessage().contains(unfiltered.toString()) && e.getMessage().contains("${x.version}"), e.getMessage());

        Path noBundles = write(dir, "{ \"id\": \"g:f:1\" }");
        assertThrows(LaunchException.class, () -> Feature.read(noBundles));
        Path notJson = write(dir, "{ \"id\": ");
        assertThrows(LaunchException.class, () -> Feature.read(notJson));
    }

    private static Path write(Path dir, String json) throws IOException {
        Path file = Files.createTempFile(dir, "feature", ".json");
        Files.writeString(file, json);
        return file;
    }
}
