package org.janus.platform.snp.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class MeasurementOptionsTest {

    @Test
    void defaultIsSnpActiveOnly() {
        assertEquals(0x1, MeasurementOptions.defaults().sevFeatures());
        assertEquals(0x21, new MeasurementOptions(MeasurementOptions.SNP_ACTIVE | MeasurementOptions.DEBUG_SWAP)
                .sevFeatures());
    }

    @Test
    void refusesFeaturesWithoutSnpActive() {
        assertThrows(IllegalArgumentException.class, () -> new MeasurementOptions(0x20));
        assertThrows(IllegalArgumentException.class, () -> new MeasurementOptions(0));
    }
}
