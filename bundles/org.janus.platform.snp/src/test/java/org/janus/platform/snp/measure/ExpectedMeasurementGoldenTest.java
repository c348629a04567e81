package org.janus.platform.snp.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.util.stream.Stream;

import org.janus.platform.snp.testdata.GoldenData;
import org.janus.platform.snp.testdata.GoldenData.Measurement;
import org.janus.platform.snp.testdata.GoldenData.WithoutSevMetadata;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

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
