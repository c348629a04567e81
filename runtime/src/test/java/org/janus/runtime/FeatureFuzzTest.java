package org.janus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Feature files as outside input ({@code features/*.json}, read by the launcher with {@link Feature#read}): any bytes
 * are a feature or a {@link LaunchException} of one line that names the file; a feature read has an id, bundles of
 * the form {@code group:artifact:version} that {@link Feature#bundleFile} maps to a jar name, and string properties.
 */
class FeatureFuzzTest {
    static final int MAX_INPUT = 64 << 10;
    static final long MAX_NANOS = 5_000_000_000L;
    private static final Path FILE = file();

    @FuzzTest
    void features(byte[] input) throws IOException {
        if (input.length > MAX_INPUT) return;
        Files.write(FILE, input);
        long start = System.nanoTime();
        Feature f;
        try {
            f = Feature.read(FILE);
        } catch (LaunchException e) {
            String m = e.getMessage();
            assertNotNull(m);
            assertFalse(m.isBlank());
            assertTrue(m.contains(FILE.toString()), "names the file: " + m);
            assertEquals(1, m.lines().count(), "one line: " + m);
            return;
        }
        assertNotNull(f.id());
        assertNotNull(f.description());
        for (String bundle : f.bundles()) {
            try {
                Path jar = Feature.bundleFile(Path.of("/opt/janus/bundles"), bundle);
                assertEquals(Path.of("/opt/janus/bundles"), jar.getParent(), "a bundle id cannot leave the bundles directory: " + bundle);
            } catch (LaunchException e) {
                throw new AssertionError("a bundle id read from a feature is refused later: " + e.getMessage(), e);
            }
        }
        f.frameworkProperties().forEach((k, v) -> assertNotNull(v, k));
        long took = System.nanoTime() - start;
        assertTrue(took < MAX_NANOS, "reading the feature took " + took / 1_000_000 + " ms");
    }

    // ---- regressions: inputs the seeds and the fuzzer found, inlined ----

    private String refusal(String json) throws IOException {
        features(json.getBytes(StandardCharsets.UTF_8));   // the contract, as the fuzz target checks it
        try {
            Feature.read(FILE);
        } catch (LaunchException e) {
            return e.getMessage();
        }
        throw new AssertionError("not refused: " + json);
    }

    /** Seed path-in-id: a bundle id with a path in it named a jar outside the bundles directory. */
    @Test
    void aBundleIdWithAPathIsRefused() throws IOException {
        String m = refusal("{ \"id\": \"g:f:1\", \"bundles\": [ { \"id\": \"g:../../etc:passwd\" } ] }");
        assertTrue(m.contains("bundle id g:../../etc:passwd has a path separator"), m);
        m = refusal("{ \"id\": \"g:f:1\", \"bundles\": [ { \"id\": \"g:x:1\\n2\" } ] }");
        assertTrue(m.contains("g:x:1\\u000a2"), "the line break shown as an escape: " + m);
    }

    /** Gson's messages for malformed JSON carry a second line (a pointer to its guide); the refusal is one line. */
    @Test
    void malformedJsonIsRefusedInOneLine() throws IOException {
        String m = refusal("{ \"id\" 1 }");
        assertEquals(1, m.lines().count(), m);
    }

    private static Path file() {
        try {
            Path dir = Files.createTempDirectory("janus-feature-fuzz");
            Path file = dir.resolve("fuzzed.json");
            file.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
