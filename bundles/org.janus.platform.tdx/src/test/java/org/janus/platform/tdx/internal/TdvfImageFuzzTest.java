package org.janus.platform.tdx.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * TDVF images as outside input: {@link TdvfImage#parse}, then what a TD launch reads from the image: each section's
 * contents, the TD HOB built for its TD_HOB section and the MRTD computed ahead. The contract: an image is read, or
 * refused with a {@link TdvfException} of one line naming the image and what is wrong; nothing else comes out, in
 * bounded time and memory.
 *
 * <p>Input: the first byte's bit 0 set means "the rest is the end of an image" (zeros in front up to whole pages: the
 * footer GUID table and the TDX metadata are at the end); clear, the rest is the image.
 */
class TdvfImageFuzzTest {
    static final String NAME = "fuzzed-tdvf.fd";
    static final int MAX_IMAGE = 1 << 20;
    static final long MAX_NANOS = 5_000_000_000L;
    /** The MRTD hashes every page of every section: inputs whose sections cover more are checked up to the HOB. */
    static final long MRTD_SECTION_BYTES = 16L << 20;

    @FuzzTest
    void images(byte[] input) {
        if (input.length == 0 || input.length > MAX_IMAGE) return;
        long start = System.nanoTime();
        check(image(input));
        long took = System.nanoTime() - start;
        assertTrue(took < MAX_NANOS, "reading the image took " + took / 1_000_000 + " ms");
    }

    static byte[] image(byte[] input) {
        int length = input.length - 1;
        if ((input[0] & 1) == 0) return Arrays.copyOfRange(input, 1, input.length);
        int size = Math.max(TdvfImage.PAGE, (length + TdvfImage.PAGE - 1) / TdvfImage.PAGE * TdvfImage.PAGE);
        byte[] image = new byte[size];
        System.arraycopy(input, 1, image, size - length, length);
        return image;
    }

    static void check(byte[] bytes) {
        TdvfImage image;
        try {
            image = TdvfImage.parse(NAME, bytes);
        } catch (TdvfException e) {
            String m = e.getMessage();
            assertNotNull(m);
            assertFalse(m.isBlank());
            assertEquals(1, m.lines().count(), "one line: " + m);
            assertTrue(m.contains(NAME), "names the image: " + m);
            return;
        }
        assertEquals(TdvfImage.FOUR_GIB - bytes.length, image.loadGpa());
        assertTrue(image.sections().size() >= 2);
        long covered = 0;
        for (TdvfSection s : image.sections()) {
            assertTrue(s.gpa() >= 0 && s.end() <= TdvfImage.FOUR_GIB && s.size() > 0 && s.size() % TdvfImage.PAGE == 0, s.toString());
            covered += s.size();
        }
        assertTrue(covered <= TdvfImage.MAX_SECTION_BYTES);
        byte[] hob = TdHob.build(image, List.of());
        assertEquals(image.hob().size(), hob.length);
        if (covered <= MRTD_SECTION_BYTES) {
            for (TdvfSection s : image.sections()) assertEquals(s.size(), image.contents(s).length);
            assertEquals(48, Mrtd.of(image, hob).length);
        }
    }

    // ---- regressions: inputs that the seeds and the fuzzer found, inlined ----

    /** A TDVF whose metadata is {@code sections} (u32 offset, u32 raw, u64 gpa, u64 size, u32 type, u32 attributes). */
    static byte[] tdvf(long[]... sections) {
        int size = 8192;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        int at = 0x1000;
        b.position(at);
        b.put("TDVF".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(16 + 32 * sections.length).putInt(1)
                .putInt(sections.length);
        for (long[] s : sections) b.putInt((int) s[0]).putInt((int) s[1]).putLong(s[2]).putLong(s[3]).putInt((int) s[4]).putInt((int) s[5]);
        // Footer GUID table: the TDX metadata offset entry, then the footer, ending 32 bytes before the image's end.
        ByteBuffer table = ByteBuffer.allocate(4 + 18 + 18).order(ByteOrder.LITTLE_ENDIAN);
        table.putInt(size - at).putShort((short) 22).put(guid(TdvfImage.TDX_METADATA_OFFSET));
        table.putShort((short) 40).put(guid(TdvfImage.GUID_TABLE_FOOTER));
        b.position(size - 32 - table.capacity());
        b.put(table.array());
        return b.array();
    }

    private static byte[] guid(java.util.UUID u) {
        long hi = u.getMostSignificantBits();
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt((int) (hi >>> 32)).putShort((short) (hi >>> 16))
                .putShort((short) hi).order(ByteOrder.BIG_ENDIAN).putLong(u.getLeastSignificantBits()).array();
    }

    private static String refusal(byte[] image) {
        check(image);
        return assertThrows(TdvfException.class, () -> TdvfImage.parse(NAME, image)).getMessage();
    }

    @Test
    void aSmallValidImageIsReadAndMeasured() throws Exception {
        byte[] image = tdvf(new long[] {0, 0x1000, 0xffc00000L, 0x1000, 0, 1}, new long[] {0, 0, 0x809000, 0x2000, 2, 0},
                new long[] {0, 0, 0x800000, 0x6000, 3, 0});
        check(image);
        assertEquals(3, TdvfImage.parse(NAME, image).sections().size());
    }

    /** Seed hob-of-gigabytes: a 3 GiB TD_HOB section became ByteBuffer.allocate of a negative int in TdHob.build. */
    @Test
    void sectionsCoveringGigabytesAreRefusedNotAllocated() {
        String m = refusal(tdvf(new long[] {0, 0x1000, 0xffc00000L, 0x1000, 0, 1}, new long[] {0, 0, 0x1000, 0xc0000000L, 2, 0}));
        assertTrue(m.contains("more than 256 MiB"), m);
    }

    /** Seed tiny-hob: a TD_HOB page too small for the HOB of its 85 memory ranges was an IllegalStateException. */
    @Test
    void aTdHobTooSmallForItsRangesIsRefused() {
        long[][] sections = new long[86][];
        sections[0] = new long[] {0, 0x1000, 0xffc00000L, 0x1000, 0, 1};
        sections[1] = new long[] {0, 0, 0x100000, 0x1000, 2, 0};
        for (int i = 2; i < sections.length; i++) sections[i] = new long[] {0, 0, 0x200000 + i * 0x1000L, 0x1000, 3, 0};
        String m = refusal(tdvf(sections));
        assertTrue(m.contains("too few for the TD HOB of its 85 memory ranges"), m);
    }
}
