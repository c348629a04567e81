package org.janus.kvm.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A host mapping of part of a {@link MemoryFile}, with checked access: a page the host may not touch (a private
 * guest_memfd page, where the kernel would raise SIGBUS) makes the access fail with EFAULT before any byte is
 * read or written, instead of crashing the JVM.
 */
@ProviderType
public interface HostMapping extends AutoCloseable {

    /** The host virtual address, for {@link UserMemoryRegion2#userspaceAddr()}. */
    long address();

    /** The mapped length in bytes. */
    long length();

    /** The file offset the mapping starts at. */
    long fileOffset();

    /**
     * Reads {@code length} bytes at {@code offset} into {@code dst[dstOffset...]}.
     *
     * @throws KvmException EFAULT when a page in the range may not be accessed by the host (nothing is read);
     *         IllegalArgumentException for a range outside the mapping
     */
    void read(long offset, byte[] dst, int dstOffset, int length);

    /**
     * Writes {@code length} bytes of {@code src[srcOffset...]} at {@code offset}.
     *
     * @throws KvmException EFAULT when a page in the range may not be accessed by the host (nothing is written)
     */
    void write(long offset, byte[] src, int srcOffset, int length);

    default byte[] read(long offset, int length) {
        byte[] b = new byte[length];
        read(offset, b, 0, length);
        return b;
    }

    default void write(long offset, byte[] src) { write(offset, src, 0, src.length); }

    default long readLong(long offset) {
        byte[] b = read(offset, 8);
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xff);
        return v;
    }

    default void writeLong(long offset, long value) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (value >>> (8 * i));
        write(offset, b);
    }

    /**
     * Takes extra references on the pages of the range, as DMA (VFIO) or vmsplice would. While held, converting
     * those pages of a guest_memfd to private fails with EAGAIN.
     *
     * @throws KvmException EFAULT when a page in the range may not be accessed by the host
     */
    PagePin pin(long offset, long length);

    /** Bytes of the range resident in host memory (mincore(2)). */
    long residentBytes(long offset, long length);

    /** munmap(2). Idempotent. */
    @Override void close();
}
