package org.janus.memory.api;

/**
 * What a region's memory really costs, measured from the kernel (fstat block counts, mincore), never counted by
 * hand. "Shared side" and "private side" are the backing files of legacy RAM; for in-place RAM there is one file,
 * whose resident pages (mincore) are split by their current state. A figure the kernel gives no way to measure (a
 * real guest_memfd without MMAP) is -1.
 *
 * @param size the region's size
 * @param privateBytes bytes currently private (from the page state)
 * @param sharedAllocated bytes allocated to the shared backing
 * @param sharedResident bytes of the shared backing resident in host memory
 * @param privateAllocated bytes allocated to the private backing (guest_memfd)
 * @param privateResident bytes of the private backing resident in host memory
 */
public record MemoryFigures(long size, long privateBytes, long sharedAllocated, long sharedResident,
                            long privateAllocated, long privateResident) {

    public static final MemoryFigures ZERO = new MemoryFigures(0, 0, 0, 0, 0, 0);

    /** Allocated bytes of both sides together. */
    public long allocated() { return sum(sharedAllocated, privateAllocated); }

    public long resident() { return sum(sharedResident, privateResident); }

    private static long sum(long a, long b) { return a < 0 || b < 0 ? -1 : a + b; }

    public MemoryFigures plus(MemoryFigures o) {
        return new MemoryFigures(size + o.size, privateBytes + o.privateBytes, sum(sharedAllocated, o.sharedAllocated),
                sum(sharedResident, o.sharedResident), sum(privateAllocated, o.privateAllocated), sum(privateResident, o.privateResident));
    }
}
