package org.janus.platform.tdx.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The TDVF parser on Debian's real image, and its refusals, each one clear line naming what is wrong. */
class TdvfImageTest {
    private static final long M = 1L << 20;

    @Test
    void debiansTdvfHasTheSectionsQemuLaunches() throws Exception {
        Path file = RealTdvf.require();
        byte[] bytes = Files.readAllBytes(file);
        assumeTrue(RealTdvf.SHA256.equals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes))),
                file + " is another build than the one whose figures this test holds");
        TdvfImage image = TdvfImage.parse(file.toString(), bytes);
        assertEquals(4 * M, image.size());
        assertEquals(0xffc00000L, image.loadGpa());
        List<TdvfSection> s = image.sections();
        assertEquals(List.of(
                new TdvfSection(TdvfSection.Type.BFV, 0x84000, 0x37c000, 0xffc84000L, 0x37c000, TdvfSection.MR_EXTEND),
                new TdvfSection(TdvfSection.Type.CFV, 0, 0x84000, 0xffc00000L, 0x84000, 0),
                new TdvfSection(TdvfSection.Type.TEMP_MEM, 0, 0, 0x810000, 0x10000, 0),
                new TdvfSection(TdvfSection.Type.TEMP_MEM, 0, 0, 0x80b000, 0x2000, 0),
                new TdvfSection(TdvfSection.Type.TD_HOB, 0, 0, 0x809000, 0x2000, 0),
                new TdvfSection(TdvfSection.Type.TEMP_MEM, 0, 0, 0x800000, 0x6000, 0)), s);
        assertEquals(0x809000, image.hob().gpa());
        // The firmware volumes are the image itself: CFV then BFV fill its 4 MiB, loaded to end at 4 GiB.
        byte[] bfv = image.contents(s.get(0));
        byte[] expected = new byte[0x37c000];
        System.arraycopy(bytes, 0x84000, expected, 0, expected.length);
        assertArrayEquals(expected, bfv);
        assertTrue(image.contents(s.get(2)).length == 0x10000 && allZero(image.contents(s.get(2))), "TEMP_MEM is zeros");
    }

    @Test
    void anOvmfWithoutTdxMetadataIsRefusedByName() throws Exception {
        // An OVMF whose GUID table lacks the TDX metadata entry: Debian's TDVF with that entry's GUID changed. (Debian's
        // OVMF.fd, the build the SEV-SNP examples boot, carries TDX metadata too, so it would not do.)
        byte[] bytes = Files.readAllBytes(RealTdvf.require());
        byte[] guid = {0x35, 0x65, 0x7a, (byte) 0xe4};
        int at = indexOf(bytes, guid, bytes.length - 4096);
        assertTrue(at > 0, "the TDX metadata GUID is in the table at the end of the image");
        bytes[at] ^= 0x55;
        TdvfException e = assertThrows(TdvfException.class, () -> TdvfImage.parse("OVMF_CODE.fd", bytes));
        assertEquals("OVMF_CODE.fd is not a TDVF image: its footer GUID table has no TDX metadata offset (GUID"
                + " e47a6535-984a-4798-865e-4685a7bf8ec2); use an OVMF built for Intel TDX, e.g. Debian's ovmf-inteltdx"
                + " (OVMF.inteltdx.ms.fd)", e.getMessage());
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    @Test
    void malformedImagesAreRefusedWithWhatIsWrong() throws Exception {
        assertTrue(assertThrows(TdvfException.class, () -> TdvfImage.parse("zeros", new byte[8192])).getMessage()
                .startsWith("zeros is not a TDVF image"));
        assertTrue(assertThrows(TdvfException.class, () -> TdvfImage.parse("odd", new byte[5000])).getMessage()
                .contains("not a positive multiple of 4096"));
        Path file = RealTdvf.require();
        byte[] real = Files.readAllBytes(file);
        int meta = real.length - 0xa00;
        byte[] badSignature = real.clone();
        badSignature[meta] = 'X';
        assertTrue(assertThrows(TdvfException.class, () -> TdvfImage.parse("sig", badSignature)).getMessage().contains("no \"TDVF\" signature"));
        byte[] badType = real.clone();
        ByteBuffer.wrap(badType).order(ByteOrder.LITTLE_ENDIAN).putInt(meta + 16 + 2 * 32 + 24, 9);
        assertEquals("type: TDVF section 2 has type 9, which Janus does not launch (BFV 0, CFV 1, TD_HOB 2, TEMP_MEM 3)",
                assertThrows(TdvfException.class, () -> TdvfImage.parse("type", badType)).getMessage());
        byte[] overlap = real.clone();
        ByteBuffer.wrap(overlap).order(ByteOrder.LITTLE_ENDIAN).putLong(meta + 16 + 3 * 32 + 8, 0x810000);
        assertTrue(assertThrows(TdvfException.class, () -> TdvfImage.parse("overlap", overlap)).getMessage().contains("overlap"));
        byte[] unaligned = real.clone();
        ByteBuffer.wrap(unaligned).order(ByteOrder.LITTLE_ENDIAN).putLong(meta + 16 + 2 * 32 + 8, 0x810800);
        assertTrue(assertThrows(TdvfException.class, () -> TdvfImage.parse("unaligned", unaligned)).getMessage()
                .contains("is not a positive multiple of 4 KiB"));
        byte[] count = real.clone();
        ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).putInt(meta + 12, 7);
        assertTrue(assertThrows(TdvfException.class, () -> TdvfImage.parse("count", count)).getMessage().contains("does not match 7 sections"));
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }
}
