package org.janus.memory.api;

/**
 * One RAM region of a guest: a contiguous GPA range backed by one memslot.
 *
 * @param name for messages and figures, e.g. {@code "ram-low"}
 * @param slot the KVM memslot id
 * @param gpa first guest physical address, page aligned
 * @param size bytes, a positive multiple of the page size
 */
public record RamRegion(String name, int slot, long gpa, long size) {
    public RamRegion {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("RAM region needs a name");
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
