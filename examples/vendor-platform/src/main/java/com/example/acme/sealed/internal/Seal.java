package com.example.acme.sealed.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The sealed boot blob and its measurement. The blob is {@code pages} 4 KiB pages at {@link #GPA}, each page
 * filled from SHA-256 of ("acme-seal", seed, page number) repeated; the measurement is SHA-256 over the platform's
 * tag, the vCPU count and, for each page, its GPA and its 4096 bytes. The launch hashes the bytes it reads back
 * from guest memory after loading them; {@code janus measure} hashes the bytes this class makes: they agree only
 * if what the guest finds is exactly the blob.
 */
record Seal(long seed, int pages, int vcpus) {
    static final long GPA = 0x100000;
    static final int PAGE = 4096;
    static final byte[] TAG = "ACME-SEALED-VM/1".getBytes(StandardCharsets.US_ASCII);

    /** The blob's page {@code n}. */
    byte[] page(int n) {
        byte[] seedHash = sha256(("acme-seal:" + seed + ":" + n).getBytes(StandardCharsets.US_ASCII));
        byte[] page = new byte[PAGE];
        for (int i = 0; i < PAGE; i++) page[i] = seedHash[i % seedHash.length];
        return page;
    }

    /** A measurement in the making: the tag and vCPU count, then each page added in order. */
    static final class Measurement {
        private final MessageDigest digest;

        Measurement(int vcpus) {
            digest = sha();
            digest.update(TAG);
            digest.update(le(vcpus));
        }

        void page(long gpa, byte[] bytes) {
            if (bytes.length != PAGE) throw new IllegalArgumentException("a page is " + PAGE + " bytes, not " + bytes.length);
            digest.update(le(gpa));
            digest.update(bytes);
        }

        byte[] finish() { return digest.digest(); }
    }

    /** What the launch of this seal measures, computed from the seal alone. */
    byte[] expected() {
        Measurement m = new Measurement(vcpus);
        for (int n = 0; n < pages; n++) m.page(GPA + (long) n * PAGE, page(n));
        return m.finish();
    }

    private static byte[] le(long v) { return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array(); }

    private static MessageDigest sha() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    private static byte[] sha256(byte[] b) { return sha().digest(b); }
}
