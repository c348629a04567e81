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
        List<WithoutSevMetadata> imagesWithoutSevMetadata, DirectBootInputs directBootInputs,
        List<DirectBoot> directBoot, List<WithoutKernelHashes> imagesWithoutKernelHashes) {

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

    /** The synthetic image and generated blobs of the direct-boot digests, each pinned by its SHA-256. */
    public record DirectBootInputs(SyntheticImage image, Map<String, Blob> blobs) {
        /** The image bytes, checked against the recorded hash so that a changed builder cannot pass unnoticed. */
        public byte[] imageBytes() {
            byte[] bytes = SyntheticOvmf.amdSevLike().build();
            checkHash(image.name(), bytes, image.sha256());
            return bytes;
        }

        /** The named blob (kernel.bin, initrd.bin), or null for null. */
        public byte[] blob(String name) {
            if (name == null) {
                return null;
            }
            Blob blob = blobs.get(name);
            byte[] bytes = new byte[blob.size()];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) (i * blob.multiplier() + blob.addend());
            }
            checkHash(name, bytes, blob.sha256());
            return bytes;
        }

        private static void checkHash(String name, byte[] bytes, String expected) {
            if (!sha256(bytes).equals(expected)) {
                throw new IllegalStateException(name + " has SHA-256 " + sha256(bytes) + ", not the recorded " + expected
                        + ": the digests in measurements.json were computed for other bytes");
            }
        }
    }

    public record SyntheticImage(String name, String builder, String sha256, long size) {
    }

    public record Blob(int size, int multiplier, int addend, String sha256) {
    }

    /** sev-snp-measure's digest for a measured direct boot of the synthetic image (kernel null: none given). */
    public record DirectBoot(int vcpus, String vcpuModel, String guestFeatures, String kernel, String initrd,
            String append, String digest) {
        @Override
        public String toString() {
            return vcpus + " vCPU " + vcpuModel + (kernel == null ? ", no kernel" : ", " + kernel)
                    + (initrd != null ? " + " + initrd : "") + (append != null ? ", \"" + append + "\"" : "");
        }
    }

    public record WithoutKernelHashes(String image, String toolError) {
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
