package org.janus.platform.snp.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.janus.platform.snp.internal.OvmfImage;
import org.janus.platform.snp.internal.SevMetadataSection;
import org.janus.platform.snp.internal.SnpLaunchDigest;
import org.janus.platform.snp.testdata.GoldenData;
import org.janus.platform.snp.testdata.GoldenData.AmdSevDigest;
import org.janus.platform.snp.testdata.GoldenData.AmdSevDirectBoot;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Janus's expected measurement of a measured direct boot of Debian's real OVMF.amdsev.fd (package ovmf-amdsev)
 * against the digests sev-snp-measure computed for the same image, kernel, initrd, command line, vCPU count, model
 * and guest features (measurements.json, "amdSevDirectBoot"), the launch examples/snp-direct-boot.json describes
 * among them. Without the image (tools/fetch-ovmf-amdsev.sh fetches it) the tests that need it are skipped with the
 * reason; in CI they fail, and they fail naming the new SHA-256 when Debian has replaced the image.
 */
class AmdSevDirectBootGoldenTest {
    private static final AmdSevDirectBoot GOLDEN = GoldenData.load().amdSevDirectBoot();

    @Test
    void goldenDataPinsTheImageAndInputsAndEachDigestNamesTheCommandThatProducedIt() {
        assertEquals("ovmf-amdsev", GOLDEN.image().pkg());
        assertTrue(GOLDEN.image().version().matches("[0-9][0-9A-Za-z.+~:-]*"), GOLDEN.image().version());
        assertTrue(GOLDEN.image().sha256().matches("[0-9a-f]{64}"), GOLDEN.image().sha256());
        assertEquals(List.of("initrd", "kernel"), GOLDEN.inputs().keySet().stream().sorted().toList());
        GOLDEN.inputs().values().forEach(i -> assertTrue(i.sha256().matches("[0-9a-f]{64}"), i.toString()));
        assertEquals("/usr/bin/python3 sev-snp-measure.py --mode snp:ovmf-hash --ovmf " + GOLDEN.image().name(),
                GOLDEN.firmwareOnly().command());
        assertTrue(GOLDEN.digests().stream().filter(d -> d.kernel() != null).count() >= 3);
        assertTrue(GOLDEN.digests().stream().anyMatch(d -> d.kernel() == null), "a launch without a kernel");
        for (AmdSevDigest d : GOLDEN.digests()) {
            assertEquals(commandOf(d), d.command(), "the recorded command is the one of the recorded inputs");
            assertTrue(d.digest().matches("[0-9a-f]{96}"), d.digest());
        }
        assertEquals(1, GOLDEN.digests().stream().filter(d -> d.example() != null).count());
    }

    /** What the command line of sev-snp-measure is for the recorded inputs (its options in the order used). */
    private static String commandOf(AmdSevDigest d) {
        List<String> args = new ArrayList<>(List.of("/usr/bin/python3", "sev-snp-measure.py", "--mode", "snp",
                "--vmm-type", "QEMU", "--ovmf", GOLDEN.image().name(), "--vcpus", Integer.toString(d.vcpus()),
                "--vcpu-type", d.vcpuModel()));
        if (d.kernel() != null) args.addAll(List.of("--kernel", d.kernel()));
        if (d.initrd() != null) args.addAll(List.of("--initrd", d.initrd()));
        if (d.append() != null) args.addAll(List.of("--append", "'" + d.append() + "'"));
        if (!d.guestFeatures().equals("0x1")) args.addAll(List.of("--guest-features", d.guestFeatures()));
        return String.join(" ", args);
    }

    @Test
    void theRealImageIsAnAmdSevBuildWithItsHashTableInTheKernelHashesPage() throws Exception {
        OvmfImage image = OvmfImage.parse(GOLDEN.image().name(), GOLDEN.imageBytes());
        assertEquals(GOLDEN.image().size(), image.size());
        assertEquals(OvmfImage.FOUR_GIB - GOLDEN.image().size(), image.loadGpa());
        List<SevMetadataSection> sections = image.requireSevMetadata();
        SevMetadataSection hashes = sections.stream().filter(s -> s.kind() == SevMetadataSection.Kind.SNP_KERNEL_HASHES)
                .findFirst().orElseThrow(() -> new AssertionError("no SNP_KERNEL_HASHES section in " + sections));
        OvmfImage.SevHashTableArea area = image.sevHashTable().orElseThrow();
        int offset = image.requireKernelHashesOffset();
        assertEquals(hashes.gpa() + offset, area.gpa(), "the table lies in the section's page, at its own address");
        assertEquals(4096, hashes.length(), "sev-snp-measure measures the section as one page");
        // Every kind of section sev-snp-measure knows appears in this build, the SVSM calling area included.
        assertEquals(List.of(SevMetadataSection.Kind.values()), sections.stream().map(SevMetadataSection::kind).distinct()
                .sorted().toList(), sections.toString());
    }

    @Test
    void firmwareOnlyDigestEqualsSevSnpMeasure() {
        OvmfImage image = parse();
        SnpLaunchDigest digest = new SnpLaunchDigest();
        digest.addNormalPages(image.loadGpa(), image.contents());
        assertEquals(GOLDEN.firmwareOnly().digest(), digest.digest().hex());
    }

    @TestFactory
    Stream<DynamicTest> expectedDigestEqualsSevSnpMeasure() {
        assertFalse(GOLDEN.digests().isEmpty());
        return GOLDEN.digests().stream().map(expected -> dynamicTest(expected.toString(), () -> {
            Path firmware = GOLDEN.imagePath();
            KernelHashes hashes = expected.kernel() == null ? null
                    : KernelHashes.read(GOLDEN.input(expected.kernel()), GOLDEN.input(expected.initrd()), expected.append());
            LaunchDigest digest = ExpectedMeasurement.compute(firmware, expected.vcpus(),
                    CpuSignature.ofQemuModel(expected.vcpuModel()),
                    new MeasurementOptions(GoldenData.parseHex(expected.guestFeatures())), hashes);
            System.out.printf("%s, %s:%n  sev-snp-measure %s%n  Janus expected  %s%n", GOLDEN.image().name(), expected,
                    expected.digest(), digest.hex());
            assertEquals(LaunchDigest.fromHex(expected.digest()), digest, expected.command());
        }));
    }

    /** The example names the recorded launch: image, kernel, initrd, command line, vCPUs and model, no extra features. */
    @Test
    void theExampleSpecIsTheRecordedLaunch() throws Exception {
        Path root = GoldenData.repositoryRoot();
        Path file = root.resolve("examples/snp-direct-boot.json");
        JsonObject spec = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        JsonObject images = spec.getAsJsonObject("images");
        JsonObject vcpus = spec.getAsJsonObject("vcpus");
        AmdSevDigest expected = GOLDEN.ofExample();
        assertEquals(GOLDEN.image().name(), images.get("firmware").getAsString());
        assertEquals(GOLDEN.input(expected.kernel()), file.getParent().resolve(images.get("kernel").getAsString()).normalize());
        assertEquals(GOLDEN.input(expected.initrd()), file.getParent().resolve(images.get("initrd").getAsString()).normalize());
        assertEquals(expected.append(), images.get("cmdline").getAsString());
        assertEquals(expected.vcpus(), vcpus.get("count").getAsInt());
        assertEquals(expected.vcpuModel(), vcpus.get("model").getAsString());
        assertEquals("0x1", expected.guestFeatures());
        assertFalse(spec.getAsJsonObject("platform").has("vmsaFeatures"), "SEV_FEATURES is SNPActive alone");
    }

    private static OvmfImage parse() {
        try {
            return OvmfImage.parse(GOLDEN.image().name(), GOLDEN.imageBytes());
        } catch (FirmwareImageException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }
}
