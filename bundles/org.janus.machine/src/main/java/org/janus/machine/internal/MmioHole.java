package org.janus.machine.internal;

/** A GPA range that is device MMIO, not RAM: never private, never backed by a memslot. */
public record MmioHole(String name, long gpa, long size) {
    public MmioHole {
        if (size <= 0 || gpa < 0 || gpa + size < gpa) throw new IllegalArgumentException("MMIO hole " + name + ": bad range");
    }

    public long end() { return gpa + size; }
}
