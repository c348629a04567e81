package org.janus.memory.api;

/** A half-open range of guest physical addresses [start, end). */
public record GpaRange(long start, long end) {
    public GpaRange {
        if (end < start) throw new IllegalArgumentException("range end 0x" + Long.toHexString(end) + " before start 0x" + Long.toHexString(start));
    }

    public static GpaRange of(long start, long size) { return new GpaRange(start, start + size); }

    public long size() { return end - start; }

    public boolean isEmpty() { return end == start; }

    /** Whether the two ranges share at least one address. */
    public boolean overlaps(GpaRange other) { return start < other.end && other.start < end; }

    @Override public String toString() {
        return "[0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")";
    }
}
