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
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.annotations.SerializedName;

/**
 * The expected digests in {@code measurements.json}, produced by running sev-snp-measure on Debian's OVMF images,
 * and access to those images: a test that needs one is skipped (with the reason) when the {@code ovmf} package is
 * not installed (in CI, where {@code CI} is set, it fails instead) or when Debian has replaced the file since the
 * digests were recorded. The same for the real AmdSev build of measured direct boot ({@link AmdSevDirectBoot}), which
 * tools/fetch-ovmf-amdsev.sh extracts into the repository's .cache/. Other modules' tests use it through this
 * bundle's test jar.
 */
public record GoldenData(Producer producer, Map<String, Image> images, List<Measurement> measurements,
        List<FirmwareOnlyDigest> firmwareOnlyDigests, List<VmsaPage> vmsaPages, List<ChainStep> pageInfoChain,
        List<WithoutSevMetadata> imagesWithoutSevMetadata, DirectBootInputs directBootInputs,
        List<DirectBoot> directBoot, List<WithoutKernelHashes> imagesWithoutKernelHashes,
        AmdSevDirectBoot amdSevDirectBoot) {

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

    /**
     * Measured direct boot on Debian's real OVMF.amdsev.fd (package ovmf-amdsev), with the kernel and initrd of
     * examples/snp-direct-boot.json: the image pinned by package version and SHA-256, the inputs by SHA-256, and
     * sev-snp-measure's digests with the commands that produced them.
     */
    public record AmdSevDirectBoot(PackagedImage image, Map<String, InputFile> inputs, RecordedDigest firmwareOnly,
            List<AmdSevDigest> digests) {
        /** Where tools/fetch-ovmf-amdsev.sh extracts the package, under the repository root. */
        public static final String CACHE = ".cache/ovmf-amdsev";
        /** An explicit path to the image, tried first. */
        public static final String PROPERTY = "janus.ovmf.amdsev";

        /**
         * The recorded image: the file the system property {@value #PROPERTY} names when it is set; otherwise the
         * extracted copy of its version, the copy in use ({@code current}) or the installed one
         * ({@code /usr/share/ovmf}), whichever is the recorded image first. Without it, or when every copy
         * found has another SHA-256 (Debian published a new build, so the recorded digests no longer apply), the
         * test is skipped with the reason; in CI ({@code CI} set, or {@code -Djanus.ovmf.required=true}) it fails.
         */
        public Path imagePath() {
            List<Path> candidates = new ArrayList<>();
            String explicit = System.getProperty(PROPERTY);
            if (explicit != null && !explicit.isBlank()) {
                // Named explicitly: that file or nothing, never silently another copy.
                candidates.add(Path.of(explicit));
            } else {
                Path cache = repositoryRoot().resolve(CACHE);
                candidates.add(cache.resolve(image.version()).resolve(image.path()));
                candidates.add(cache.resolve("current").resolve(image.path()));
                candidates.add(Path.of("/").resolve(image.path()));
            }
            List<String> others = new ArrayList<>();
            for (Path candidate : candidates) {
                if (!Files.isRegularFile(candidate)) {
                    continue;
                }
                String sha256 = sha256(candidate);
                if (sha256.equals(image.sha256())) {
                    return candidate;
                }
                others.add(realPath(candidate) + " has SHA-256 " + sha256);
            }
            String what = image.name() + " of " + image.pkg() + " " + image.version();
            String reason = others.isEmpty()
                    ? what + " (SHA-256 " + image.sha256() + ") is in none of " + candidates + ":"
                            + " tools/fetch-ovmf-amdsev.sh fetches it (the build of org.janus.platform.snp runs it unless"
                            + " -Djanus.ovmf.amdsev.skip=true), or install Debian's " + image.pkg()
                    : String.join("; ", others) + ", not " + image.sha256() + ", the recorded SHA-256 of " + what
                            + ": Debian published another " + image.pkg() + ", for which the recorded digests do not"
                            + " hold; run sev-snp-measure on it and record the new image and digests in measurements.json";
            requiredOrSkip(reason);
            throw new AssertionError("unreachable");
        }

        /** The bytes of the image at {@link #imagePath()}. */
        public byte[] imageBytes() {
            try {
                return Files.readAllBytes(imagePath());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The named input file (kernel, initrd) under the repository root, checked against its SHA-256; null for null. */
        public Path input(String name) {
            if (name == null) {
                return null;
            }
            InputFile recorded = inputs.get(name);
            if (recorded == null) {
                throw new IllegalArgumentException("measurements.json records no input " + name);
            }
            Path file = repositoryRoot().resolve(recorded.path());
            if (!Files.isRegularFile(file)) {
                throw new IllegalStateException(file + " is missing: the recorded digests were computed with it");
            }
            String sha256 = sha256(file);
            if (!sha256.equals(recorded.sha256())) {
                throw new IllegalStateException(file + " has SHA-256 " + sha256 + ", not the recorded "
                        + recorded.sha256() + ": the digests in measurements.json were computed for other bytes;"
                        + " run sev-snp-measure again and record them");
            }
            return file;
        }

        /** The digest sev-snp-measure computed for the launch examples/snp-direct-boot.json describes. */
        public AmdSevDigest ofExample() {
            return digests.stream().filter(d -> "snp-direct-boot.json".equals(d.example())).findFirst()
                    .orElseThrow(() -> new AssertionError("measurements.json records no digest for snp-direct-boot.json"));
        }
    }

    /** A firmware image from a Debian package: where the package installs it, and what it must hash to. */
    public record PackagedImage(String name, @SerializedName("package") String pkg, String version, String suite,
            String debSha256, String path, String sha256, long size) {
    }

    public record InputFile(String path, String sha256, long size) {
    }

    public record RecordedDigest(String command, String digest) {
    }

    /** sev-snp-measure's digest for one launch of the AmdSev image; kernel, initrd, append null when not given. */
    public record AmdSevDigest(String example, int vcpus, String vcpuModel, String guestFeatures, String kernel,
            String initrd, String append, String command, String digest) {
        @Override
        public String toString() {
            return vcpus + " vCPU " + vcpuModel + ", features " + guestFeatures
                    + (kernel == null ? ", no kernel" : ", " + kernel) + (initrd != null ? " + " + initrd : "")
                    + (append != null ? ", \"" + append + "\"" : "");
        }
    }

    /** The repository root: the nearest directory up from the working directory that holds the fetch script. */
    public static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("tools/fetch-ovmf-amdsev.sh"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no directory above " + Path.of("").toAbsolutePath()
                + " holds tools/fetch-ovmf-amdsev.sh: the tests run inside the Janus repository");
    }

    /** The file a path names, through links such as .cache/ovmf-amdsev/current, which name the version. */
    private static Path realPath(Path path) {
        try {
            return path.toRealPath();
        } catch (IOException e) {
            return path;
        }
    }

    /** Where the check must run (CI), a missing prerequisite fails; elsewhere the test is skipped with the reason. */
    static void requiredOrSkip(String reason) {
        if (System.getenv("CI") != null || Boolean.getBoolean("janus.ovmf.required")) {
            fail(reason + " (required in CI)");
        }
        assumeTrue(false, reason);
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
            requiredOrSkip(reason);
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        checkRecorded(path, sha256(bytes), image.sha256());
        return bytes;
    }

    /**
     * The image at {@code path} is the one the digests were recorded for. A changed image must not switch the digest
     * checks off where they must run: in CI it fails, naming the new hash; elsewhere the test is skipped.
     */
    static void checkRecorded(Path path, String sha256, String recorded) {
        if (!sha256.equals(recorded))
            requiredOrSkip(path + " has SHA-256 " + sha256 + ", not the recorded " + recorded
                    + ": Debian updated the ovmf package, so the recorded digests do not apply; regenerate measurements.json"
                    + " with sev-snp-measure");
    }

    public static long parseHex(String value) {
        return Long.parseUnsignedLong(value.startsWith("0x") ? value.substring(2) : value, 16);
    }

    private static String sha256(Path file) {
        try {
            return sha256(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
