package org.janus.platform.snp.testdata;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** Golden data cannot switch itself off where it must be checked. */
class GoldenDataTest {
    @Test
    void aChangedImageFailsWhereTheChecksMustRunAndNamesTheNewHash() {
        String before = System.getProperty("janus.ovmf.required");
        System.setProperty("janus.ovmf.required", "true");
        try {
            AssertionFailedError e = assertThrows(AssertionFailedError.class,
                    () -> GoldenData.checkRecorded(Path.of("/usr/share/ovmf/OVMF.fd"), "ab12", "cd34"));
            assertTrue(e.getMessage().contains("has SHA-256 ab12, not the recorded cd34"), e.getMessage());
            GoldenData.checkRecorded(Path.of("/usr/share/ovmf/OVMF.fd"), "cd34", "cd34");
        } finally {
            if (before == null) System.clearProperty("janus.ovmf.required");
            else System.setProperty("janus.ovmf.required", before);
        }
        if (System.getenv("CI") == null) {
            assertThrows(TestAbortedException.class, () -> GoldenData.checkRecorded(Path.of("x.fd"), "ab12", "cd34"),
                    "on a developer's machine a changed image skips");
        }
    }
}
