package org.janus.kvm.api;

/**
 * Flags of memfd_create(2) that {@link Kvm#memfdCreate(String, long, long)} takes (MFD_CLOEXEC is always set):
 * a memfd on hugetlbfs, with the huge page size encoded in bits 26-31 as log2 of the size (the MAP_HUGE_SHIFT
 * encoding of include/uapi/linux/memfd.h).
 */
public final class MemfdFlags {
    /** MFD_HUGETLB: the file lives on hugetlbfs and is backed by huge pages from the host's pool. */
    public static final long HUGETLB = 0x0004;
    /** MFD_HUGE_SHIFT: where the log2 of the huge page size goes. */
    public static final int HUGE_SHIFT = 26;
    /** MFD_HUGE_2MB. */
    public static final long HUGE_2MB = 21L << HUGE_SHIFT;
    /** MFD_HUGE_1GB. */
    public static final long HUGE_1GB = 30L << HUGE_SHIFT;

    private MemfdFlags() {}

    /** HUGETLB with the size code of {@code pageSize} (2 MiB or 1 GiB). */
    public static long hugetlb(long pageSize) {
        if (pageSize == 2L << 20) return HUGETLB | HUGE_2MB;
        if (pageSize == 1L << 30) return HUGETLB | HUGE_1GB;
        throw new IllegalArgumentException("no huge page size 0x" + Long.toHexString(pageSize) + " (2 MiB or 1 GiB)");
    }

    /** The huge page size the flags ask for, or 0 without HUGETLB (a size code alone is the kernel's EINVAL). */
    public static long hugePageSize(long flags) {
        if ((flags & HUGETLB) == 0) return 0;
        long code = (flags >>> HUGE_SHIFT) & 0x3f;
        return code == 0 ? 0 : 1L << code;
    }
}
