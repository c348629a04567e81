package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

import org.janus.platform.snp.measure.CpuSignature;
import org.janus.platform.snp.testdata.GoldenData;
import org.junit.jupiter.api.Test;

class VmsaTest {
    private static final CpuSignature MILAN = CpuSignature.ofQemuModel("EPYC-Milan");

    @Test
    void bootProcessorStartsAtTheResetVector() {
        ByteBuffer page = page(Vmsa.bootProcessor(0x1, MILAN));
        assertEquals(0xf000, Short.toUnsignedInt(page.getShort(0x10)), "CS selector");
        assertEquals(0x9b, page.getShort(0x12), "CS attributes");
        assertEquals(0xffff, page.getInt(0x14), "CS limit");
        assertEquals(0xffff0000L, page.getLong(0x18), "CS base");
        assertEquals(0xfff0, page.getLong(0x178), "RIP");
    }

    @Test
    void applicationProcessorStartsAtTheSevEsResetBlockAddress() {
        ByteBuffer page = page(Vmsa.applicationProcessor(0x80b004, 0x1, MILAN));
        assertEquals(0x800000L, page.getLong(0x18), "CS base from bits 31:16");
        assertEquals(0xb004, page.getLong(0x178), "RIP from bits 15:0");
    }

    @Test
    void carriesSignatureFeaturesAndResetState() {
        ByteBuffer page = page(Vmsa.bootProcessor(0x21, MILAN));
        assertEquals(0xa00f11, page.getLong(0x310), "RDX holds the CPU signature");
        assertEquals(0x21, page.getLong(0x3b0), "SEV_FEATURES");
        assertEquals(0x1000, page.getLong(0xd0), "EFER.SVME");
        assertEquals(0x40, page.getLong(0x148), "CR4.MCE");
        assertEquals(0x10, page.getLong(0x158), "CR0.ET");
        assertEquals(0x2, page.getLong(0x170), "RFLAGS");
        assertEquals(0x0007040600070406L, page.getLong(0x268), "PAT");
        assertEquals(0x1, page.getLong(0x3e8), "XCR0");
        assertEquals(0x1f80, page.getInt(0x408), "MXCSR");
        assertEquals(0x37f, page.getShort(0x410), "x87 FCW");
        assertEquals(0x82, page.getShort(0x72), "LDTR attributes");
        assertEquals(0x8b, page.getShort(0x92), "TR attributes");
        for (int at = 0x420; at < Vmsa.SIZE; at++) {
            assertEquals(0, page.get(at), "byte 0x" + Integer.toHexString(at) + " after the x87 control state");
        }
    }

    @Test
    void signatureAndFeaturesChangeThePage() {
        byte[] base = Vmsa.bootProcessor(0x1, MILAN).toPage();
        assertNotEquals(hash(base), hash(Vmsa.bootProcessor(0x21, MILAN).toPage()));
        assertNotEquals(hash(base), hash(Vmsa.bootProcessor(0x1, CpuSignature.ofQemuModel("EPYC-Genoa")).toPage()));
    }

    @Test
    void pagesMatchThoseSevSnpMeasureDumps() {
        for (GoldenData.VmsaPage expected : GoldenData.load().vmsaPages()) {
            Vmsa vmsa = new Vmsa(GoldenData.parseHex(expected.resetEip()), GoldenData.parseHex(expected.guestFeatures()),
                    CpuSignature.ofQemuModel(expected.vcpuModel()));
            assertEquals(expected.sha384(), hash(vmsa.toPage()), expected.image() + " " + expected.vcpu() + " "
                    + expected.vcpuModel());
        }
    }

    private static ByteBuffer page(Vmsa vmsa) {
        byte[] bytes = vmsa.toPage();
        assertEquals(4096, bytes.length);
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static String hash(byte[] page) {
        return HexFormat.of().formatHex(SnpLaunchDigest.sha384(page));
    }
}
