package org.janus.platform.snp.measure;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * An SEV-SNP launch digest: the 48-byte SHA-384 chain value the firmware keeps in the guest context while a guest is
 * launched, and reports as MEASUREMENT in the attestation report. Equal when the bytes are equal.
 */
public record LaunchDigest(byte[] bytes) {
    public static final int SIZE = 48;

    public LaunchDigest {
        if (bytes.length != SIZE) {
            throw new IllegalArgumentException("a launch digest has " + SIZE + " bytes, not " + bytes.length);
        }
        bytes = bytes.clone();
    }

    /** Parses 96 hex digits, as sev-snp-measure and the attestation tools print them. */
    public static LaunchDigest fromHex(String hex) {
        return new LaunchDigest(HexFormat.of().parseHex(hex.strip()));
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    /** Lower-case hex, 96 digits. */
    public String hex() {
        return HexFormat.of().formatHex(bytes);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof LaunchDigest that && Arrays.equals(bytes, that.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return hex();
    }
}
