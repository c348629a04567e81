package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.List;

import org.janus.platform.snp.measure.CpuSignature;
import org.janus.platform.snp.measure.FirmwareImageException;
import org.janus.platform.snp.measure.KernelHashes;
import org.janus.platform.snp.measure.MeasurementOptions;
import org.janus.platform.snp.testdata.SyntheticOvmf;
import org.janus.platform.snp.testdata.SyntheticOvmf.Section;
import org.junit.jupiter.api.Test;

class SnpLaunchPlanTest {
    private static final CpuSignature GENOA = CpuSignature.ofQemuModel("EPYC-Genoa");

    private static OvmfImage firmware() throws FirmwareImageException {
        return OvmfImage.parse("synthetic", new SyntheticOvmf()
                .sevMetadata(new Section(0x800000, 0x2000, 1), new Section(0x80d000, 0x1000, 2),
                        new Section(0x80e000, 0x1000, 3), new Section(0x80f000, 0x1000, 0x10))
                .resetEip(0x80b004)
                .build());
    }

    @Test
    void firmwareFirstThenMetadataInOvmfOrder() throws Exception {
        OvmfImage firmware = firmware();
        SnpLaunchPlan plan = SnpLaunchPlan.forOvmf(firmware, 3, GENOA, MeasurementOptions.defaults());

        List<LaunchUpdate> updates = plan.memoryUpdates();
        assertEquals(5, updates.size());
        assertEquals(new LaunchUpdate.Measured(firmware.loadGpa(), firmware.contents()), updates.get(0));
        assertEquals(64 * 1024, updates.get(0).length());
        assertEquals(List.of(
                new LaunchUpdate.Unhashed(0x800000, 0x2000, SnpPageType.ZERO),
                new LaunchUpdate.Unhashed(0x80d000, 0x1000, SnpPageType.SECRETS),
                new LaunchUpdate.Unhashed(0x80e000, 0x1000, SnpPageType.CPUID),
                new LaunchUpdate.Unhashed(0x80f000, 0x1000, SnpPageType.ZERO)), updates.subList(1, 5));
    }

    @Test
    void oneVmsaPerVcpuBootProcessorFirst() throws Exception {
        SnpLaunchPlan plan = SnpLaunchPlan.forOvmf(firmware(), 3, GENOA, new MeasurementOptions(0x21));
        assertEquals(List.of(new Vmsa(Vmsa.BSP_RESET_EIP, 0x21, GENOA), new Vmsa(0x80b004, 0x21, GENOA),
                new Vmsa(0x80b004, 0x21, GENOA)), plan.vmsas());
    }

    @Test
    void digestDependsOnVcpuCountSignatureAndFeatures() throws Exception {
        OvmfImage firmware = firmware();
        MeasurementOptions defaults = MeasurementOptions.defaults();
        var one = SnpLaunchPlan.forOvmf(firmware, 1, GENOA, defaults).expectedDigest();
        assertEquals(one, SnpLaunchPlan.forOvmf(firmware, 1, GENOA, defaults).expectedDigest());
        assertNotEquals(one, SnpLaunchPlan.forOvmf(firmware, 2, GENOA, defaults).expectedDigest());
        assertNotEquals(one, SnpLaunchPlan.forOvmf(firmware, 1, CpuSignature.ofQemuModel("EPYC-Milan"), defaults)
                .expectedDigest());
        assertNotEquals(one, SnpLaunchPlan.forOvmf(firmware, 1, GENOA, new MeasurementOptions(0x21))
                .expectedDigest());
    }

    @Test
    void refusesVcpuCountsKvmCannotHave() throws Exception {
        OvmfImage firmware = firmware();
        assertThrows(IllegalArgumentException.class,
                () -> SnpLaunchPlan.forOvmf(firmware, 0, GENOA, MeasurementOptions.defaults()));
        assertThrows(IllegalArgumentException.class, () -> SnpLaunchPlan.forOvmf(firmware,
                SnpLaunchPlan.MAX_VCPUS + 1, GENOA, MeasurementOptions.defaults()));
    }

    @Test
    void refusesFirmwareWithoutSevMetadataOrResetBlock() throws Exception {
        OvmfImage noMetadata = OvmfImage.parse("no-sev", new SyntheticOvmf().resetEip(0x80b004).build());
        assertEquals(FirmwareImageException.Problem.NO_SEV_METADATA, assertThrows(FirmwareImageException.class,
                () -> SnpLaunchPlan.forOvmf(noMetadata, 1, GENOA, MeasurementOptions.defaults())).problem());
        OvmfImage noResetBlock = OvmfImage.parse("no-reset", new SyntheticOvmf()
                .sevMetadata(new Section(0x800000, 0x1000, 1)).build());
        assertEquals(FirmwareImageException.Problem.NO_SEV_ES_RESET_BLOCK, assertThrows(
                FirmwareImageException.class,
                () -> SnpLaunchPlan.forOvmf(noResetBlock, 1, GENOA, MeasurementOptions.defaults())).problem());
    }

    @Test
    void withAKernelTheHashesPageIsMeasuredWithTheTableAtItsOffset() throws Exception {
        OvmfImage firmware = OvmfImage.parse("amdsev", SyntheticOvmf.amdSevLike().build());
        KernelHashes hashes = KernelHashes.of(new byte[] {1, 2, 3}, null, "console=ttyS0");
        SnpLaunchPlan plan = SnpLaunchPlan.forOvmf(firmware, 1, GENOA, MeasurementOptions.defaults(), hashes);
        LaunchUpdate last = plan.memoryUpdates().get(4);
        assertEquals(SnpPageType.NORMAL, last.type());
        assertEquals(0x80f000, last.gpa());
        ByteBuffer page = ((LaunchUpdate.Measured) last).contents();
        byte[] expected = SevHashTable.sectionContents(hashes, 0x1000, 0xc00);
        byte[] actual = new byte[page.remaining()];
        page.get(actual);
        assertArrayEquals(expected, actual);
        assertEquals(new LaunchUpdate.Unhashed(0x80f000, 0x1000, SnpPageType.ZERO),
                SnpLaunchPlan.forOvmf(firmware, 1, GENOA, MeasurementOptions.defaults()).memoryUpdates().get(4));
        assertNotEquals(plan.expectedDigest(), SnpLaunchPlan.forOvmf(firmware, 1, GENOA, MeasurementOptions.defaults(),
                KernelHashes.of(new byte[] {1, 2, 3}, null, "console=ttyS1")).expectedDigest());
    }
}
