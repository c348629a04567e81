package org.janus.machine.internal.x86boot;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The BIOS memory map a direct boot hands the kernel in boot_params: the machine's RAM regions as usable RAM, except
 * the legacy hole [0xA0000, 0x100000) (VGA window and option ROM space on a PC, which Linux keeps its hands off
 * when it is reserved), and every MMIO hole reserved. Addresses that are neither are absent, as on real firmware.
 */
public final class E820 {
    public static final int RAM = 1;
    public static final int RESERVED = 2;
    /** boot_params holds this many entries (E820_MAX_ENTRIES_ZEROPAGE). */
    public static final int MAX_ENTRIES = 128;
    static final long LEGACY_START = 0xA0000;
    static final long LEGACY_END = 0x100000;

    private E820() {}

    /** One entry: [addr, addr + size) of a type. */
    public record Entry(long addr, long size, int type) {
        public long end() { return addr + size; }

        @Override public String toString() {
            return String.format("[0x%x, 0x%x) %s", addr, end(), type == RAM ? "usable" : type == RESERVED ? "reserved" : "type " + type);
        }
    }

    /** A range of guest physical addresses [start, end). */
    public record Range(long start, long end) {}

    /**
     * @param ram the RAM regions, in any order, not overlapping
     * @param mmio the MMIO holes
     * @throws BootImageException when the map needs more entries than boot_params holds
     */
    public static List<Entry> of(List<Range> ram, List<Range> mmio) {
        List<Entry> out = new ArrayList<>();
        for (Range r : ram) {
            long s = r.start(), e = r.end();
            if (s < LEGACY_START) add(out, s, Math.min(e, LEGACY_START), RAM);
            if (s < LEGACY_END && e > LEGACY_START) add(out, Math.max(s, LEGACY_START), Math.min(e, LEGACY_END), RESERVED);
            if (e > LEGACY_END) add(out, Math.max(s, LEGACY_END), e, RAM);
        }
        for (Range h : mmio) add(out, h.start(), h.end(), RESERVED);
        out.sort(Comparator.comparingLong(Entry::addr));
        if (out.size() > MAX_ENTRIES)
            throw new BootImageException("the memory map needs " + out.size() + " e820 entries; boot_params holds " + MAX_ENTRIES);
        return List.copyOf(out);
    }

    private static void add(List<Entry> out, long start, long end, int type) {
        if (end > start) out.add(new Entry(start, end - start, type));
    }
}
