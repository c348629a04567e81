package org.janus.memory.api;

/**
 * One RAM region of a guest: a contiguous GPA range backed by one memslot.
 *
 * @param name for messages and figures, e.g. {@code "ram-low"}
 * @param slot the KVM memslot id
 * @param gpa first guest physical address, page aligned
 * @param size bytes, a positive multiple of the page size
 * @param hugePageSize the page size of the shared face's backing when it is on hugetlb (2 MiB or 1 GiB; gpa and size
 *        are multiples of it), or 0 for the host's base pages. Only the legacy backend serves it: a hugetlb-backed
 *        guest_memfd is in no kernel Janus knows.
 */
public record RamRegion(String name, int slot, long gpa, long size, long hugePageSize) {
    /** A region on the host's base pages. */
    public RamRegion(String name, int slot, long gpa, long size) { this(name, slot, gpa, size, 0); }

    public RamRegion {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("RAM region needs a name");
        if (hugePageSize != 0 && hugePageSize != 2L << 20 && hugePageSize != 1L << 30)
            throw new IllegalArgumentException("RAM region " + name + ": huge page size 0x" + Long.toHexString(hugePageSize) + " is not 2 MiB or 1 GiB");
        if (hugePageSize != 0 && (gpa % hugePageSize != 0 || size % hugePageSize != 0))
            throw new IllegalArgumentException("RAM region " + name + ": gpa and size must be multiples of its huge page size 0x"
                    + Long.toHexString(hugePageSize));
        if (slot < 0 || slot > 0x7fff) throw new IllegalArgumentException("RAM region " + name + ": slot " + slot + " out of range 0..32767");
        if (size <= 0) throw new IllegalArgumentException("RAM region " + name + ": size must be positive");
        if (gpa < 0 || gpa + size < gpa) throw new IllegalArgumentException("RAM region " + name + ": GPA range overflows");
    }

    /** One past the last GPA. */
    public long end() { return gpa + size; }

    public boolean contains(long addr) { return addr >= gpa && addr < end(); }

    public boolean contains(long addr, long length) {
        return length >= 0 && addr >= gpa && addr + length <= end() && addr + length >= addr;
    }

    public boolean overlaps(long addr, long length) { return addr < end() && addr + length > gpa; }
}
