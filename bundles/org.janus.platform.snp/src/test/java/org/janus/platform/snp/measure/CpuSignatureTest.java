package org.janus.platform.snp.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CpuSignatureTest {

    @Test
    void qemuEpycModelsHaveTheirCpuid1Eax() {
        assertEquals(0x00800f12, CpuSignature.ofQemuModel("EPYC").eax());
        assertEquals(0x00800f12, CpuSignature.ofQemuModel("EPYC-v4").eax());
        assertEquals(0x00830f10, CpuSignature.ofQemuModel("EPYC-Rome").eax());
        assertEquals(0x00a00f11, CpuSignature.ofQemuModel("EPYC-Milan").eax());
        assertEquals(0x00a00f11, CpuSignature.ofQemuModel("EPYC-Milan-v2").eax());
        assertEquals(0x00a10f10, CpuSignature.ofQemuModel("EPYC-Genoa").eax());
        assertEquals(0x00b00f00, CpuSignature.ofQemuModel("EPYC-Turin").eax());
    }

    @Test
    void packsAndUnpacksFamilyModelStepping() {
        CpuSignature genoa = CpuSignature.of(25, 17, 0);
        assertEquals(0x00a10f10, genoa.eax());
        assertEquals(25, genoa.family());
        assertEquals(17, genoa.model());
        assertEquals(0, genoa.stepping());
        CpuSignature old = CpuSignature.of(6, 0x3a, 9);     // a family below 0xF has no extended family
        assertEquals(0x000306a9, old.eax());
        assertEquals(6, old.family());
        assertEquals(0x3a, old.model());
        assertEquals(9, old.stepping());
    }

    @Test
    void unknownModelListsTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CpuSignature.ofQemuModel("EPYC-Bergamo"));
        assertTrue(e.getMessage().contains("'EPYC-Bergamo'") && e.getMessage().contains("EPYC-Genoa-v2"),
                e.getMessage());
        assertTrue(CpuSignature.qemuModels().contains("EPYC-Rome-v5"));
    }

    @Test
    void refusesFieldsOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> CpuSignature.of(0x10F, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> CpuSignature.of(25, 0x100, 0));
        assertThrows(IllegalArgumentException.class, () -> CpuSignature.of(25, 1, 16));
    }
}
