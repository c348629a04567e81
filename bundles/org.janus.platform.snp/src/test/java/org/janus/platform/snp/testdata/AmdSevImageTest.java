package org.janus.platform.snp.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.function.Supplier;

import org.janus.platform.snp.testdata.GoldenData.AmdSevDirectBoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * Where the digests of the real AmdSev image must be checked (CI), a missing image or another build of it fails,
 * naming what was found; on a developer's machine it skips with that reason. The image is named through the system
 * property here, so that these cases do not depend on what this machine has cached or installed.
 */
class AmdSevImageTest {
    private static final AmdSevDirectBoot GOLDEN = GoldenData.load().amdSevDirectBoot();

    @Test
    void anotherBuildOfTheImageFailsInCiNamingItsSha256(@TempDir Path dir) throws Exception {
        Path changed = Files.write(dir.resolve(GOLDEN.image().name()), "not the recorded image".getBytes());
        String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(changed)));
        String message = withImage(changed.toString(), true, () -> assertThrows(AssertionFailedError.class, GOLDEN::imagePath))
                .getMessage();
        assertTrue(message.contains(changed + " has SHA-256 " + sha256 + ", not " + GOLDEN.image().sha256()), message);
        assertTrue(message.contains("ovmf-amdsev " + GOLDEN.image().version()) && message.contains("required in CI"), message);
        if (System.getenv("CI") == null) {
            withImage(changed.toString(), false, () -> assertThrows(TestAbortedException.class, GOLDEN::imagePath));
        }
    }

    @Test
    void aMissingImageFailsInCiSayingHowToFetchIt(@TempDir Path dir) {
        Path missing = dir.resolve(GOLDEN.image().name());
        String message = withImage(missing.toString(), true, () -> assertThrows(AssertionFailedError.class, GOLDEN::imagePath))
                .getMessage();
        assertTrue(message.contains("is in none of [" + missing + "]") && message.contains("tools/fetch-ovmf-amdsev.sh"),
                message);
    }

    @Test
    void theRecordedImageNamedExplicitlyIsTakenAsItIs(@TempDir Path dir) throws Exception {
        Path copy = Files.copy(GOLDEN.imagePath(), dir.resolve("renamed.fd"));
        assertEquals(copy, withImage(copy.toString(), true, GOLDEN::imagePath));
    }

    /** Runs {@code check} with the image property set to {@code path} and, if {@code required}, the checks required. */
    private static <T> T withImage(String path, boolean required, Supplier<T> check) {
        String image = System.getProperty(AmdSevDirectBoot.PROPERTY);
        String requiredBefore = System.getProperty("janus.ovmf.required");
        System.setProperty(AmdSevDirectBoot.PROPERTY, path);
        System.setProperty("janus.ovmf.required", Boolean.toString(required));
        try {
            return check.get();
        } finally {
            restore(AmdSevDirectBoot.PROPERTY, image);
            restore("janus.ovmf.required", requiredBefore);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }
}
