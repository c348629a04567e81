package com.example.acme.sealed.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class SealTest {
    @Test
    void theMeasurementCoversTagVcpusAndEveryPage() {
        Seal seal = new Seal(7, 3, 2);
        Seal.Measurement m = new Seal.Measurement(2);
        for (int n = 0; n < 3; n++) m.page(Seal.GPA + n * 4096L, seal.page(n));
        assertArrayEquals(seal.expected(), m.finish());
        assertFalse(Arrays.equals(seal.expected(), new Seal(7, 3, 4).expected()), "the vCPU count is measured");
        assertFalse(Arrays.equals(seal.expected(), new Seal(8, 3, 2).expected()), "the blob is measured");
        assertFalse(Arrays.equals(seal.expected(), new Seal(7, 4, 2).expected()), "every page is measured");
        byte[] changed = seal.page(1);
        changed[4095] ^= 1;
        Seal.Measurement tampered = new Seal.Measurement(2);
        tampered.page(Seal.GPA, seal.page(0));
        tampered.page(Seal.GPA + 4096, changed);
        tampered.page(Seal.GPA + 8192, seal.page(2));
        assertFalse(Arrays.equals(seal.expected(), tampered.finish()), "one changed byte changes the measurement");
        assertEquals(64, HexFormat.of().formatHex(seal.expected()).length());
    }
}
