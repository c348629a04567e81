package org.janus.benchmarks.scale;

import org.janus.memory.api.GpaRange;
import org.janus.memory.api.PageState;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The page-state tracker as it was before the scale benchmark (commit af33f2d): the maximal private runs in a
 * {@code TreeMap<Long, Long>}. Kept here, unchanged but for its name and the run type, as the baseline that
 * {@link PageStateScale} and {@link TrackerFootprint} measure the current {@link org.janus.memory.api.PageStateMap}
 * against in the same run: each run costs a tree entry and two boxed longs (about 72 bytes), which puts a million
 * runs over the 64 MiB goal.
 */
public final class TreeMapPageStates {
    private final long base;
    private final long limit;
    private final long pageSize;
    /** start -> end of each maximal run of private pages. */
    private final NavigableMap<Long, Long> privateRuns = new TreeMap<>();
    private long privateBytes;

    /** All pages of [base, limit) start in {@code initial}. */
    public TreeMapPageStates(long base, long limit, long pageSize, PageState initial) {
        if (Long.bitCount(pageSize) != 1) throw new IllegalArgumentException("page size must be a power of two");
        if (limit <= base) throw new IllegalArgumentException("empty range");
        this.base = base;
        this.limit = limit;
        this.pageSize = pageSize;
        checkAligned(base, limit);
        if (initial == PageState.PRIVATE) {
            privateRuns.put(base, limit);
            privateBytes = limit - base;
        }
    }

    public long base() { return base; }

    public long limit() { return limit; }

    public long pageSize() { return pageSize; }

    /** Bytes currently private. */
    public long privateBytes() { return privateBytes; }

    /** Number of maximal private runs (the map's size). */
    public int privateRunCount() { return privateRuns.size(); }

    public PageState stateAt(long addr) {
        checkInside(addr, addr + 1);
        Map.Entry<Long, Long> e = privateRuns.floorEntry(addr);
        return e != null && e.getValue() > addr ? PageState.PRIVATE : PageState.SHARED;
    }

    /** Whether every page of [start, end) is in {@code state}. */
    public boolean isUniform(long start, long end, PageState state) {
        checkInside(start, end);
        if (start == end) return true;
        Map.Entry<Long, Long> e = privateRuns.floorEntry(start);
        if (state == PageState.PRIVATE) return e != null && e.getValue() >= end;
        if (e != null && e.getValue() > start) return false;
        Long next = privateRuns.higherKey(start);
        return next == null || next >= end;
    }

    /** Bytes of [start, end) that are private. */
    public long privateBytesIn(long start, long end) {
        checkInside(start, end);
        long sum = 0;
        for (Run r : runs(start, end)) if (r.state() == PageState.PRIVATE) sum += r.range().size();
        return sum;
    }

    /** Makes every page of [start, end) {@code state}. Both ends must be page aligned. */
    public void set(long start, long end, PageState state) {
        checkInside(start, end);
        checkAligned(start, end);
        if (start == end) return;
        // Every run that overlaps or touches [start, end] is taken out, then what remains is put back, so that
        // runs stay maximal (a private run never ends where the next one starts).
        long mergedStart = start;
        long mergedEnd = end;
        long[] keep = new long[4];
        int kept = 0;
        Map.Entry<Long, Long> left = privateRuns.floorEntry(start);
        Long first = left != null && left.getValue() >= start ? left.getKey() : Long.valueOf(start);
        Iterator<Map.Entry<Long, Long>> it = privateRuns.subMap(first, true, end, true).entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, Long> run = it.next();
            long a = run.getKey();
            long b = run.getValue();
            it.remove();
            privateBytes -= b - a;
            if (state == PageState.PRIVATE) {
                mergedStart = Math.min(mergedStart, a);
                mergedEnd = Math.max(mergedEnd, b);
            } else {
                // Only the first and the last run can stick out of [start, end).
                if (a < start) { keep[kept++] = a; keep[kept++] = start; }
                if (b > end) { keep[kept++] = end; keep[kept++] = b; }
            }
        }
        for (int i = 0; i < kept; i += 2) putRun(keep[i], keep[i + 1]);
        if (state == PageState.PRIVATE) putRun(mergedStart, mergedEnd);
    }

    private void putRun(long a, long b) {
        privateRuns.put(a, b);
        privateBytes += b - a;
    }

    /** The runs of [start, end) in order, each with its state, covering the range exactly. */
    public List<Run> runs(long start, long end) {
        checkInside(start, end);
        List<Run> out = new ArrayList<>();
        long at = start;
        Map.Entry<Long, Long> e = privateRuns.floorEntry(start);
        if (e != null && e.getValue() > start) {
            long stop = Math.min(e.getValue(), end);
            out.add(new Run(new GpaRange(start, stop), PageState.PRIVATE));
            at = stop;
        }
        for (Map.Entry<Long, Long> r : privateRuns.subMap(at, true, end, false).entrySet()) {
            if (r.getKey() > at) out.add(new Run(new GpaRange(at, r.getKey()), PageState.SHARED));
            long stop = Math.min(r.getValue(), end);
            out.add(new Run(new GpaRange(r.getKey(), stop), PageState.PRIVATE));
            at = stop;
        }
        if (at < end) out.add(new Run(new GpaRange(at, end), PageState.SHARED));
        return out;
    }

    /** A maximal stretch of one state within a queried range. */
    public record Run(GpaRange range, PageState state) {}

    private void checkInside(long start, long end) {
        if (start < base || end > limit || end < start)
            throw new IllegalArgumentException("range " + new GpaRange(start, Math.max(start, end)) + " is outside "
                    + new GpaRange(base, limit));
    }

    private void checkAligned(long start, long end) {
        if (((start | end) & (pageSize - 1)) != 0)
            throw new IllegalArgumentException("range " + new GpaRange(start, end) + " is not aligned to 0x"
                    + Long.toHexString(pageSize));
    }
}
