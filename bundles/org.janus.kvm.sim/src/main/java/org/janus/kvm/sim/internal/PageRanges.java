package org.janus.kvm.sim.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A set of page numbers kept as disjoint half-open ranges [start, end), merged when adjacent. Memory is
 * proportional to the number of ranges, each operation O(log n + ranges touched). Not thread-safe: the
 * software KVM guards it with its model lock.
 */
final class PageRanges {
    private final TreeMap<Long, Long> ranges = new TreeMap<>();

    boolean contains(long page) {
        Map.Entry<Long, Long> e = ranges.floorEntry(page);
        return e != null && page < e.getValue();
    }

    /** Whether every page of [start, end) is in the set. */
    boolean containsAll(long start, long end) {
        if (start >= end) return true;
        Map.Entry<Long, Long> e = ranges.floorEntry(start);
        return e != null && e.getValue() >= end;
    }

    /** Whether no page of [start, end) is in the set. */
    boolean containsNone(long start, long end) {
        return firstIn(start, end) < 0;
    }

    /** The lowest page of [start, end) in the set, or -1. */
    long firstIn(long start, long end) {
        if (start >= end) return -1;
        if (contains(start)) return start;
        Long next = ranges.higherKey(start);
        return next != null && next < end ? next : -1;
    }

    void add(long start, long end) {
        if (start >= end) return;
        Map.Entry<Long, Long> before = ranges.floorEntry(start);
        if (before != null && before.getValue() >= start) {
            start = before.getKey();
            end = Math.max(end, before.getValue());
        }
        Map.Entry<Long, Long> e;
        while ((e = ranges.ceilingEntry(start)) != null && e.getKey() <= end) {
            end = Math.max(end, e.getValue());
            ranges.remove(e.getKey());
        }
        ranges.put(start, end);
    }

    void remove(long start, long end) {
        if (start >= end) return;
        Map.Entry<Long, Long> before = ranges.lowerEntry(start);
        if (before != null && before.getValue() > start) {
            ranges.put(before.getKey(), start);
            if (before.getValue() > end) ranges.put(end, before.getValue());
        }
        Map.Entry<Long, Long> e;
        while ((e = ranges.ceilingEntry(start)) != null && e.getKey() < end) {
            ranges.remove(e.getKey());
            if (e.getValue() > end) ranges.put(end, e.getValue());
        }
    }

    /** The ranges of the set clipped to [start, end), in order, as {start, end} pairs. */
    List<long[]> rangesIn(long start, long end) {
        List<long[]> out = new ArrayList<>();
        if (start >= end) return out;
        Map.Entry<Long, Long> first = ranges.floorEntry(start);
        Long from = first != null && first.getValue() > start ? first.getKey() : Long.valueOf(start);
        for (Map.Entry<Long, Long> e : ranges.subMap(from, true, end, false).entrySet()) {
            long s = Math.max(start, e.getKey());
            long t = Math.min(end, e.getValue());
            if (s < t) out.add(new long[] {s, t});
        }
        return out;
    }

    int rangeCount() { return ranges.size(); }

    @Override public String toString() {
        StringBuilder b = new StringBuilder("[");
        ranges.forEach((s, e) -> b.append(b.length() > 1 ? ", " : "").append(s).append("..").append(e));
        return b.append(']').toString();
    }
}
