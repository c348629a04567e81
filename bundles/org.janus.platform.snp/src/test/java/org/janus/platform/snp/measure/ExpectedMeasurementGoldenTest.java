package org.janus.platform.snp.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.janus.platform.snp.testdata.GoldenData;
import org.janus.platform.snp.testdata.GoldenData.DirectBoot;
import org.janus.platform.snp.testdata.GoldenData.DirectBootInputs;
import org.janus.platform.snp.testdata.GoldenData.Measurement;
import org.janus.platform.snp.testdata.GoldenData.WithoutSevMetadata;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Janus's expected measurement against the digests sev-snp-measure computed for the same Debian OVMF images,
 * vCPU counts, CPU signatures and guest features (recorded in measurements.json with the tool's commit).
 */
class ExpectedMeasurementGoldenTest {
    private static final GoldenData GOLDEN = GoldenData.load();

    @Test
    void goldenDataNamesItsProducerAndCoversTheBriefedCombinations() {
        assertEquals("sev-snp-measure", GOLDEN.producer().tool());
        assertEquals(40, GOLDEN.producer().commit().length());
        for (String model : new String[] {"EPYC-v4", "EPYC-Milan", "EPYC-Genoa"}) {
            for (int vcpus : new int[] {1, 2, 4}) {
                assertTrue(GOLDEN.measurements().stream()
                        .anyMatch(m -> model.equals(m.vcpuModel()) && m.vcpus() == vcpus), model + " x" + vcpus);
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> equalsSevSnpMeasure() {
        assertFalse(GOLDEN.measurements().isEmpty());
        return GOLDEN.measurements().stream().map(expected -> dynamicTest(expected.toString(), () -> {
            byte[] image = GOLDEN.installedImage(expected.image());
            LaunchDigest digest = ExpectedMeasurement.compute(expected.image(), image, expected.vcpus(),
                    signatureOf(expected), new MeasurementOptions(GoldenData.parseHex(expected.guestFeatures())));
            assertEquals(LaunchDigest.fromHex(expected.digest()), digest);
        }));
    }

    @TestFactory
    Stream<DynamicTest> refusesImagesWithoutSevMetadataThatTheToolMeasuresAnyway() {
        assertFalse(GOLDEN.imagesWithoutSevMetadata().isEmpty());
        return GOLDEN.imagesWithoutSevMetadata().stream().map(expected -> dynamicTest(expected.image(), () -> {
            byte[] image = GOLDEN.installedImage(expected.image());
            FirmwareImageException e = assertThrows(FirmwareImageException.class,
                    () -> compute(expected, image));
            assertEquals(FirmwareImageException.Problem.NO_SEV_METADATA, e.problem());
            assertTrue(e.getMessage().contains("lacks SEV-SNP support"), e.getMessage());
        }));
    }

    @TestFactory
    Stream<DynamicTest> measuredDirectBootEqualsSevSnpMeasure() {
        assertTrue(GOLDEN.directBoot().stream().filter(d -> d.kernel() != null).count() >= 2);
        DirectBootInputs inputs = GOLDEN.directBootInputs();
        byte[] image = inputs.imageBytes();
        return GOLDEN.directBoot().stream().map(expected -> dynamicTest(expected.toString(), () -> {
            KernelHashes hashes = expected.kernel() == null ? null
                    : KernelHashes.of(inputs.blob(expected.kernel()), inputs.blob(expected.initrd()), expected.append());
            LaunchDigest digest = ExpectedMeasurement.compute(inputs.image().name(), image, expected.vcpus(),
                    CpuSignature.ofQemuModel(expected.vcpuModel()),
                    new MeasurementOptions(GoldenData.parseHex(expected.guestFeatures())), hashes);
            assertEquals(LaunchDigest.fromHex(expected.digest()), digest);
        }));
    }

    @Test
    void kernelHashesReadFromFilesEqualThoseOfTheBytes(@TempDir Path dir) throws Exception {
        DirectBootInputs inputs = GOLDEN.directBootInputs();
        DirectBoot expected = GOLDEN.directBoot().stream().filter(d -> d.initrd() != null).findFirst().orElseThrow();
        Path firmware = Files.write(dir.resolve(inputs.image().name()), inputs.imageBytes());
        Path kernel = Files.write(dir.resolve("kernel"), inputs.blob(expected.kernel()));
        Path initrd = Files.write(dir.resolve("initrd"), inputs.blob(expected.initrd()));
        KernelHashes fromFiles = KernelHashes.read(kernel, initrd, expected.append());
        assertEquals(KernelHashes.of(inputs.blob(expected.kernel()), inputs.blob(expected.initrd()), expected.append()),
                fromFiles);
        assertEquals(LaunchDigest.fromHex(expected.digest()), ExpectedMeasurement.compute(firmware, expected.vcpus(),
                CpuSignature.ofQemuModel(expected.vcpuModel()), MeasurementOptions.defaults(), fromFiles));
    }

    @TestFactory
    Stream<DynamicTest> refusesAKernelForImagesWithoutKernelHashesAsTheToolDoes() {
        assertFalse(GOLDEN.imagesWithoutKernelHashes().isEmpty());
        KernelHashes hashes = KernelHashes.of(new byte[4096], null, null);
        return GOLDEN.imagesWithoutKernelHashes().stream().map(expected -> dynamicTest(expected.image(), () -> {
            byte[] image = GOLDEN.installedImage(expected.image());
            FirmwareImageException e = assertThrows(FirmwareImageException.class, () -> ExpectedMeasurement.compute(
                    expected.image(), image, 1, CpuSignature.ofQemuModel("EPYC-v4"), MeasurementOptions.defaults(),
                    hashes));
            assertEquals(FirmwareImageException.Problem.NO_KERNEL_HASHES, e.problem());
            assertTrue(e.getMessage().contains("no SNP_KERNEL_HASHES section"), e.getMessage());
        }));
    }

    private static LaunchDigest compute(WithoutSevMetadata expected, byte[] image) throws FirmwareImageException {
        return ExpectedMeasurement.compute(expected.image(), image, expected.vcpus(),
                CpuSignature.ofQemuModel(expected.vcpuModel()), MeasurementOptions.defaults());
    }

    private static CpuSignature signatureOf(Measurement expected) {
        return expected.vcpuModel() != null
                ? CpuSignature.ofQemuModel(expected.vcpuModel())
                : new CpuSignature((int) GoldenData.parseHex(expected.vcpuSig()));
    }
}
