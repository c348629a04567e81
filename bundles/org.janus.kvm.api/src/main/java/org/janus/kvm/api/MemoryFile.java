package org.janus.kvm.api;

import org.osgi.annotation.versioning.ProviderType;

/** A memory-backed file: a guest_memfd or an ordinary memfd. Its size is fixed at creation. */
@ProviderType
public interface MemoryFile extends AutoCloseable {

    /** The size given at creation. */
    long size();

    /**
     * fallocate(2).
     *
     * @throws KvmException for a guest_memfd: EOPNOTSUPP without {@link FallocateMode#KEEP_SIZE} or with any
     *         bit other than KEEP_SIZE and PUNCH_HOLE; EINVAL for an offset or length not page aligned, or an
     *         allocation beyond the size; ENOMEM; EINTR; EBADF once closed
     */
    void fallocate(int mode, long offset, long length);

    /** fallocate(KEEP_SIZE): allocate (zeroed) backing for the range. */
    default void allocate(long offset, long length) { fallocate(FallocateMode.KEEP_SIZE, offset, length); }

    /** fallocate(KEEP_SIZE | PUNCH_HOLE): free the range; the next access reads zeros. */
    default void punchHole(long offset, long length) {
        fallocate(FallocateMode.KEEP_SIZE | FallocateMode.PUNCH_HOLE, offset, length);
    }

    /**
     * mmap(2) of {@code [offset, offset+length)}, read-write.
     *
     * @param shared MAP_SHARED if true, MAP_PRIVATE otherwise
     * @throws KvmException ENODEV for a guest_memfd without {@link GuestMemfdFlags#MMAP}; EINVAL for MAP_PRIVATE
     *         of a guest_memfd, or an unaligned offset
     */
    HostMapping mmap(long offset, long length, boolean shared);

    /** fstat(2). Note that guest_memfd keeps no block count: its st_blocks stays 0 however much is allocated. */
    FileStat fstat();

    /**
     * Bytes of the file backed by memory now, measured: st_blocks for a memfd; for a guest_memfd, which has no
     * block count, what the provider can measure (the real kernel: mincore of a mapping where the guest_memfd has
     * {@link GuestMemfdFlags#MMAP}; the software KVM: its backing memfd).
     *
     * @return the bytes, or -1 where the kernel offers no way to measure them (a real guest_memfd without MMAP)
     */
    long allocatedBytes();

    /**
     * ftruncate(2).
     *
     * @throws KvmException EINVAL for a guest_memfd (it cannot be resized)
     */
    void ftruncate(long length);

    /**
     * pread(2) of up to {@code length} bytes.
     *
     * @throws KvmException for a guest_memfd, always (ESPIPE: it is not opened for positional reads)
     */
    byte[] pread(long offset, int length);

    /**
     * pwrite(2).
     *
     * @throws KvmException for a guest_memfd, always (ESPIPE: it is not opened for positional writes)
     */
    int pwrite(long offset, byte[] data);

    /** Whether the descriptor is still open. */
    boolean isOpen();

    /** close(2). Idempotent. Mappings of the file stay valid until unmapped. */
    @Override void close();
}
