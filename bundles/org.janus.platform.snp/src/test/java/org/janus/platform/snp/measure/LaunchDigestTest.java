package org.janus.platform.snp.measure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LaunchDigestTest {
    private static final String HEX =
            "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3";

    @Test
    void hexRoundTripsAndEqualityIsByContent() {
        LaunchDigest digest = LaunchDigest.fromHex(HEX.toUpperCase());
        assertEquals(HEX, digest.hex());
        assertEquals(LaunchDigest.fromHex(HEX), digest);
        assertEquals(LaunchDigest.fromHex(HEX).hashCode(), digest.hashCode());
        assertNotEquals(new LaunchDigest(new byte[48]), digest);
    }

    @Test
    void isImmutable() {
        byte[] bytes = new byte[48];
        LaunchDigest digest = new LaunchDigest(bytes);
        bytes[0] = 1;
        digest.bytes()[1] = 1;
        assertEquals(new LaunchDigest(new byte[48]), digest);
    }

    @Test
    void refusesOtherLengths() {
        assertThrows(IllegalArgumentException.class, () -> new LaunchDigest(new byte[32]));
        assertThrows(IllegalArgumentException.class, () -> LaunchDigest.fromHex("abcd"));
    }
}
