package org.janus.platform.snp.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;

import org.janus.platform.snp.testdata.SyntheticOvmf;
import org.janus.platform.snp.testdata.SyntheticOvmf.Section;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExpectedMeasurementTest {
    private static final CpuSignature MILAN = CpuSignature.ofQemuModel("EPYC-Milan");

    @Test
    void readsTheImageFromAFileAsFromBytes(@TempDir Path dir) throws Exception {
        byte[] image = new SyntheticOvmf().sevMetadata(new Section(0x800000, 0x1000, 1)).resetEip(0x80b004).build();
        Path file = Files.write(dir.resolve("OVMF.fd"), image);
        assertEquals(ExpectedMeasurement.compute("OVMF.fd", image, 2, MILAN, MeasurementOptions.defaults()),
                ExpectedMeasurement.compute(file, 2, MILAN, MeasurementOptions.defaults()));
    }

    @Test
    void namesTheFileWhenRefusingIt(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("OVMF_CODE_4M.fd"), new SyntheticOvmf().resetEip(0x808004).build());
        FirmwareImageException e = assertThrows(FirmwareImageException.class,
                () -> ExpectedMeasurement.compute(file, 1, MILAN, MeasurementOptions.defaults()));
        assertEquals(FirmwareImageException.Problem.NO_SEV_METADATA, e.problem());
        assertEquals(true, e.getMessage().startsWith(file + " has no SEV metadata"), e.getMessage());
    }

    @Test
    void refusesZeroVcpus() {
        byte[] image = new SyntheticOvmf().sevMetadata(new Section(0x800000, 0x1000, 1)).resetEip(0x80b004).build();
        assertThrows(IllegalArgumentException.class,
                () -> ExpectedMeasurement.compute("x", image, 0, MILAN, MeasurementOptions.defaults()));
    }
}
