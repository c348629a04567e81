package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.UUID;

import org.janus.platform.snp.measure.KernelHashes;

/**
 * The SEV hash table a VMM places for OVMF's measured direct boot, laid out byte for byte as QEMU builds it
 * ({@code PaddedSevHashTable} in target/i386/sev.c), because the launch measures its page with its contents:
 * a header (table GUID, u16 length of the unpadded table), then one entry per blob, command line, initrd and kernel
 * in that order (entry GUID, u16 entry length, SHA-256), packed without gaps and padded with zeros to 16 bytes.
 * OVMF's BlobVerifierLib finds each entry by its GUID.
 */
final class SevHashTable {
    static final UUID TABLE = UUID.fromString("9438d606-4f22-4cc9-b479-a793d411fd21");
    static final UUID CMDLINE_ENTRY = UUID.fromString("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");
    static final UUID INITRD_ENTRY = UUID.fromString("44baf731-3a2f-4bd7-9af1-41e29169781d");
    static final UUID KERNEL_ENTRY = UUID.fromString("4de79437-abd2-427f-b835-d5b172d2045b");

    static final int ENTRY_SIZE = EfiGuid.SIZE + 2 + KernelHashes.HASH_SIZE;
    /** The table's own length field: header and three entries, without the padding. */
    static final int TABLE_SIZE = EfiGuid.SIZE + 2 + 3 * ENTRY_SIZE;
    /** What QEMU writes: the table padded to a multiple of 16 bytes. */
    static final int PADDED_SIZE = (TABLE_SIZE + 15) & ~15;

    private SevHashTable() {
    }

    /** The padded table. */
    static byte[] of(KernelHashes hashes) {
        ByteBuffer table = ByteBuffer.allocate(PADDED_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        table.put(EfiGuid.bytes(TABLE)).putShort((short) TABLE_SIZE);
        entry(table, CMDLINE_ENTRY, hashes.cmdlineSha256());
        entry(table, INITRD_ENTRY, hashes.initrdSha256());
        entry(table, KERNEL_ENTRY, hashes.kernelSha256());
        return table.array();
    }

    /**
     * The contents of OVMF's SNP_KERNEL_HASHES section as QEMU launches it: zeros, with the padded table at
     * {@code offset} (the hash table's address within its page, since QEMU places it at the section start plus
     * that offset).
     */
    static byte[] sectionContents(KernelHashes hashes, int length, int offset) {
        if (offset < 0 || offset + PADDED_SIZE > length) {
            throw new IllegalArgumentException(String.format("a %d-byte SEV hash table at offset 0x%x does not fit"
                    + " in 0x%x bytes", PADDED_SIZE, offset, length));
        }
        byte[] contents = new byte[length];
        System.arraycopy(of(hashes), 0, contents, offset, PADDED_SIZE);
        return contents;
    }

    private static void entry(ByteBuffer table, UUID guid, byte[] sha256) {
        table.put(EfiGuid.bytes(guid)).putShort((short) ENTRY_SIZE).put(sha256);
    }
}
