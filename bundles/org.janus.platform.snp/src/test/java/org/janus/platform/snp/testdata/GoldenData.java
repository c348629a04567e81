package org.janus.platform.snp.testdata;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;

/**
 * The expected digests in {@code measurements.json}, produced by running sev-snp-measure on Debian's OVMF images,
 * and access to those images: a test that needs one is skipped (with the reason) when the {@code ovmf} package is
 * not installed (in CI, where {@code CI} is set, it fails instead) or when Debian has replaced the file since the
 * digests were recorded.
 */
public record GoldenData(Producer producer, Map<String, Image> images, List<Measurement> measurements,
        List<FirmwareOnlyDigest> firmwareOnlyDigests, List<VmsaPage> vmsaPages, List<ChainStep> pageInfoChain,
        List<WithoutSevMetadata> imagesWithoutSevMetadata) {

    public record Producer(String tool, String version, String repository, String commit) {
    }

    public record Image(String path, String sha256, long size) {
    }

    public record Measurement(String image, int vcpus, String vcpuModel, String vcpuSig, String guestFeatures,
            String digest) {
        @Override
        public String toString() {
            return image + ", " + vcpus + " vCPU, " + (vcpuModel != null ? vcpuModel : "sig " + vcpuSig)
                    + ", features " + guestFeatures;
        }
    }

    public record FirmwareOnlyDigest(String image, String digest) {
    }

    public record VmsaPage(String image, String vcpu, String resetEip, String vcpuModel, String guestFeatures,
            String sha384) {
    }

    public record ChainStep(String pageType, String gpa, String contents, String digestAfter) {
    }

    public record WithoutSevMetadata(String image, int vcpus, String vcpuModel, String toolDigest) {
    }

    public static GoldenData load() {
        try (Reader reader = new InputStreamReader(
                GoldenData.class.getResourceAsStream("/measurements.json"), StandardCharsets.UTF_8)) {
            return new Gson().fromJson(reader, GoldenData.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The installed image of that name, unchanged since the digests were recorded; else the test is skipped. */
    public byte[] installedImage(String name) {
        Image image = images.get(name);
        if (image == null) {
            throw new IllegalArgumentException("measurements.json records no image " + name);
        }
        Path path = Path.of(image.path());
        if (!Files.isRegularFile(path)) {
            String reason = path + " is not installed; Debian's ovmf package provides it (apt-get install -y ovmf)";
            // As elsewhere in Janus: where the check must run (CI), a missing prerequisite fails instead of skipping.
            if (System.getenv("CI") != null || Boolean.getBoolean("janus.ovmf.required")) {
                fail(reason + " (required in CI)");
            }
            assumeTrue(false, reason);
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String sha256 = sha256(bytes);
        assumeTrue(sha256.equals(image.sha256()), () -> path + " has SHA-256 " + sha256 + ", not the recorded "
                + image.sha256() + ": Debian updated the ovmf package, so the recorded digests do not apply;"
                + " regenerate measurements.json with sev-snp-measure");
        return bytes;
    }

    public static long parseHex(String value) {
        return Long.parseUnsignedLong(value.startsWith("0x") ? value.substring(2) : value, 16);
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
