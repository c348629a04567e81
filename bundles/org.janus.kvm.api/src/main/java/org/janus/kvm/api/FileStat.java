package org.janus.kvm.api;

/** What fstat(2) says of a guest_memfd or memfd: size, block size, allocated 512-byte blocks, inode. */
public record FileStat(long size, long blockSize, long blocks, long inode) {
    /** Bytes actually allocated to the file (st_blocks * 512), as the kernel counts them. */
    public long allocatedBytes() { return blocks * 512; }
}
