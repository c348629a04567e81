package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

import org.janus.platform.snp.measure.KernelHashes;
import org.janus.platform.snp.testdata.SyntheticOvmf;
import org.junit.jupiter.api.Test;

/** The SEV hash table's bytes, checked field by field against QEMU's packed layout. */
class SevHashTableTest {
    private static final byte[] KERNEL = "a kernel".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] INITRD = "an initrd".getBytes(StandardCharsets.US_ASCII);

    @Test
    void headerThenCmdlineInitrdKernelEntriesPaddedTo16Bytes() throws Exception {
        byte[] table = SevHashTable.of(KernelHashes.of(KERNEL, INITRD, "quiet"));
        assertEquals(176, table.length);
        ByteBuffer b = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
        assertArrayEquals(SyntheticOvmf.guidBytes(SevHashTable.TABLE), Arrays.copyOfRange(table, 0, 16));
        assertEquals(168, b.getShort(16));
        byte[][] hashes = {sha256("quiet\0".getBytes(StandardCharsets.US_ASCII)), sha256(INITRD), sha256(KERNEL)};
        java.util.UUID[] guids = {SevHashTable.CMDLINE_ENTRY, SevHashTable.INITRD_ENTRY, SevHashTable.KERNEL_ENTRY};
        for (int i = 0; i < 3; i++) {
            int at = 18 + 50 * i;
            assertArrayEquals(SyntheticOvmf.guidBytes(guids[i]), Arrays.copyOfRange(table, at, at + 16), "entry " + i);
            assertEquals(50, b.getShort(at + 16), "entry " + i);
            assertArrayEquals(hashes[i], Arrays.copyOfRange(table, at + 18, at + 50), "entry " + i);
        }
        assertArrayEquals(new byte[8], Arrays.copyOfRange(table, 168, 176));
    }

    @Test
    void anAbsentInitrdHashesAsNoBytesAndAnAbsentCmdlineAsOneNul() throws Exception {
        KernelHashes none = KernelHashes.of(KERNEL, null, null);
        assertArrayEquals(sha256(new byte[0]), none.initrdSha256());
        assertArrayEquals(sha256(new byte[1]), none.cmdlineSha256());
        assertEquals(none, KernelHashes.of(KERNEL, new byte[0], ""));
    }

    @Test
    void theSectionHoldsZerosAndTheTableAtItsOffset() {
        KernelHashes hashes = KernelHashes.of(KERNEL, INITRD, "quiet");
        byte[] page = SevHashTable.sectionContents(hashes, 4096, 0xc00);
        assertArrayEquals(SevHashTable.of(hashes), Arrays.copyOfRange(page, 0xc00, 0xc00 + 176));
        assertArrayEquals(new byte[0xc00], Arrays.copyOfRange(page, 0, 0xc00));
        assertArrayEquals(new byte[4096 - 0xc00 - 176], Arrays.copyOfRange(page, 0xc00 + 176, 4096));
        assertThrows(IllegalArgumentException.class, () -> SevHashTable.sectionContents(hashes, 4096, 4000));
    }

    private static byte[] sha256(byte[] bytes) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(bytes);
    }
}
