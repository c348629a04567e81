package org.janus.platform.tdx.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.janus.platform.api.PlatformSpec.RamRange;
import org.junit.jupiter.api.Test;

/** The MRTD computed ahead: its records byte by byte, and the value for Debian's TDVF against an independent one. */
class MrtdTest {

    @Test
    void recordsAreTheTdxModulesBlocks() throws Exception {
        byte[] add = Mrtd.record("MEM.PAGE.ADD", 0xffc84000L);
        assertEquals(128, add.length);
        assertEquals("MEM.PAGE.ADD", new String(add, 0, 12, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(0, add[12] | add[13] | add[14] | add[15], "the name is padded with zeros to 16 bytes");
        assertEquals(0xffc84000L, ByteBuffer.wrap(add).order(ByteOrder.LITTLE_ENDIAN).getLong(16));
        assertEquals(0, sum(add, 24, 128), "the rest is zero");

        // One measured page: its ADD record, then 16 EXTEND records each followed by its 256-byte chunk.
        byte[] page = new byte[4096];
        for (int i = 0; i < page.length; i++) page[i] = (byte) (i * 7 + 1);
        Mrtd m = new Mrtd();
        m.addRegion(0x1000, page, true);
        MessageDigest sha = MessageDigest.getInstance("SHA-384");
        sha.update(block("MEM.PAGE.ADD", 0x1000));
        for (int c = 0; c < 16; c++) {
            sha.update(block("MR.EXTEND", 0x1000 + c * 256L));
            sha.update(Arrays.copyOfRange(page, c * 256, c * 256 + 256));
        }
        assertArrayEquals(sha.digest(), m.finish());
        assertEquals(1, m.pagesMeasured());

        Mrtd unmeasured = new Mrtd();
        unmeasured.addRegion(0x1000, page, false);
        MessageDigest only = MessageDigest.getInstance("SHA-384");
        only.update(block("MEM.PAGE.ADD", 0x1000));
        assertArrayEquals(only.digest(), unmeasured.finish(), "without MR_EXTEND the contents do not count");
    }

    @Test
    void debiansTdvfMeasuresAsTheIndependentComputationSays() throws Exception {
        TdvfImage image = TdvfImage.read(RealTdvf.require());
        byte[] hob = TdHob.build(image, List.of(new RamRange(0, 2L << 30)));
        assertEquals(RealTdvf.MRTD, HexFormat.of().formatHex(Mrtd.of(image, hob)));
        // The HOB is not measured: another HOB gives the same MRTD.
        byte[] other = hob.clone();
        other[100] ^= 1;
        assertEquals(RealTdvf.MRTD, HexFormat.of().formatHex(Mrtd.of(image, other)));
        // One byte of the measured BFV changes it.
        byte[] bytes = java.nio.file.Files.readAllBytes(RealTdvf.require());
        bytes[0x84000 + 5] ^= 1;
        assertNotEquals(RealTdvf.MRTD, HexFormat.of().formatHex(Mrtd.of(TdvfImage.parse("changed", bytes), hob)));
    }

    @Test
    void theHobHandsOffTheSectionsTdvfUses() throws Exception {
        TdvfImage image = TdvfImage.read(RealTdvf.require());
        ByteBuffer b = ByteBuffer.wrap(TdHob.build(image, List.of())).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x2000, b.capacity());
        assertEquals(TdHob.TYPE_HANDOFF, b.getShort(0));
        assertEquals(56, b.getShort(2));
        assertEquals(9, b.getInt(8), "EFI_HOB_HANDOFF_TABLE_VERSION");
        int resources = 4;                     // TD_HOB and the three TEMP_MEM sections, with no RAM known
        long end = 0x809000 + 56 + resources * 48;
        assertEquals(end, b.getLong(48), "EfiEndOfHobList points at the end-of-list HOB");
        assertEquals(TdHob.TYPE_RESOURCE_DESCRIPTOR, b.getShort(56));
        assertEquals((short) 0xffff, b.getShort((int) (end - 0x809000)));
    }

    @Test
    void theHobHandsOverTheGuestsRamAsUnacceptedAroundTheSectionsTheLaunchAdded() throws Exception {
        TdvfImage image = TdvfImage.read(RealTdvf.require());
        // Two RAM regions, 2 GiB below the 32-bit hole and 1 GiB above 4 GiB, as a spec with a hole would have.
        List<RamRange> ram = List.of(new RamRange(0, 2L << 30), new RamRange(4L << 30, 1L << 30));
        List<TdHob.Resource> r = TdHob.resources(image, ram);
        long covered = 0;
        long next = 0;
        for (TdHob.Resource x : r) {
            assertTrue(x.gpa() >= next, "sorted, no overlap: " + r);
            next = x.gpa() + x.size();
            covered += x.size();
            boolean section = image.sections().stream().anyMatch(s -> (s.type() == TdvfSection.Type.TD_HOB
                    || s.type() == TdvfSection.Type.TEMP_MEM) && s.gpa() == x.gpa() && s.size() == x.size());
            assertEquals(section ? TdHob.RESOURCE_SYSTEM_MEMORY : TdHob.RESOURCE_MEMORY_UNACCEPTED, x.type(), x.toString());
        }
        assertEquals(3L << 30, covered, "every byte of RAM, once: " + r);
        assertEquals(4, r.stream().filter(x -> x.type() == TdHob.RESOURCE_SYSTEM_MEMORY).count(), r.toString());
        assertEquals(new TdHob.Resource(TdHob.RESOURCE_MEMORY_UNACCEPTED, 4L << 30, 1L << 30), r.get(r.size() - 1));

        ByteBuffer b = ByteBuffer.wrap(TdHob.build(image, ram)).order(ByteOrder.LITTLE_ENDIAN);
        long end = 0x809000 + 56 + r.size() * 48L;
        assertEquals(end, b.getLong(48), "EfiEndOfHobList points at the end-of-list HOB");
        for (int i = 0; i < r.size(); i++) {
            int at = 56 + i * 48;
            assertEquals(TdHob.TYPE_RESOURCE_DESCRIPTOR, b.getShort(at));
            assertEquals(r.get(i).type(), b.getInt(at + 24));
            assertEquals(TdHob.ATTRIBUTE_TDVF_PRIVATE, b.getInt(at + 28));
            assertEquals(r.get(i).gpa(), b.getLong(at + 32));
            assertEquals(r.get(i).size(), b.getLong(at + 40));
        }
        assertEquals((short) 0xffff, b.getShort((int) (end - 0x809000)));

        // More ranges than the section holds: refused, not written past it.
        List<RamRange> many = new ArrayList<>();
        for (int i = 0; i < 200; i++) many.add(new RamRange((16L << 30) + i * (4L << 20), 2L << 20));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> TdHob.build(image, many));
        assertTrue(e.getMessage().contains("memory ranges"), e.getMessage());
    }

    private static byte[] block(String name, long gpa) {
        ByteBuffer b = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < name.length(); i++) b.put(i, (byte) name.charAt(i));
        return b.putLong(16, gpa).array();
    }

    private static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) s += b[i] & 0xff;
        return s;
    }
}
