package org.janus.memory.api;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which pages of an address range are private: exact at page granularity, stored as the maximal runs of
 * private pages (start to end, never adjacent, never overlapping). A conversion costs O(log n) plus the runs it
 * swallows, which amortises to O(log n); memory is proportional to the number of runs, not to the size of the
 * range. Not thread-safe: its owner (a {@link GuestRam}) serialises access.
 *
 * <p>The runs are kept in order in chunks of up to {@value #CHUNK} runs, each chunk one {@code long[]} of start/end
 * pairs, indexed by a tree on each chunk's first start. A run costs 16 to 32 bytes rather than the ~72 of a tree
 * entry with two boxed longs, so a 1 TiB guest fragmented into a million runs fits in 16 to 32 MiB of heap
 * (docs/benchmarks.md measures it), and the tree the garbage collector walks is {@value #CHUNK} times smaller.
 */
public final class PageStateMap {
    /**
     * Runs per chunk at most: inserting or removing a run moves at most this many pairs (4 KiB), a few tens of
     * nanoseconds, while the index stays small.
     */
    static final int CHUNK = 128;
    /** A chunk with fewer runs than this after a removal is merged into its neighbour when they fit in one. */
    private static final int MERGE_BELOW = CHUNK / 4;

    private final long base;
    private final long limit;
    private final long pageSize;
    /** First start of each chunk -> the chunk; the chunks hold the runs in order, none empty. */
    private final TreeMap<Long, Chunk> chunks = new TreeMap<>();
    private long privateBytes;
    private int runCount;
    /** Set by {@link #removeTouching}: the start of the first and the end of the last run it removed. */
    private long removedFirst;
    private long removedLast;

    /** Runs in order, as pairs: {@code r[2i]} the start and {@code r[2i + 1]} the end of run i. */
    private static final class Chunk {
        long[] r;
        int n;

        Chunk(int capacity) { r = new long[2 * capacity]; }

        long start(int i) { return r[2 * i]; }

        long end(int i) { return r[2 * i + 1]; }

        /** The last run whose start is at or before {@code addr}, or -1. */
        int floor(long addr) {
            int lo = 0;
            int hi = n - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (r[2 * mid] <= addr) lo = mid + 1;
                else hi = mid - 1;
            }
            return hi;
        }

        void insert(int i, long a, long b) {
            if (2 * n == r.length) r = Arrays.copyOf(r, Math.min(2 * CHUNK, 2 * r.length));
            System.arraycopy(r, 2 * i, r, 2 * i + 2, 2 * (n - i));
            r[2 * i] = a;
            r[2 * i + 1] = b;
            n++;
        }

        /** Removes runs [from, to). */
        void remove(int from, int to) {
            System.arraycopy(r, 2 * to, r, 2 * from, 2 * (n - to));
            n -= to - from;
        }

        /** Appends every run of {@code other}, which all start after this chunk's. */
        void append(Chunk other) {
            if (r.length < 2 * (n + other.n)) r = Arrays.copyOf(r, 2 * CHUNK);
            System.arraycopy(other.r, 0, r, 2 * n, 2 * other.n);
            n += other.n;
        }
    }

    /** All pages of [base, limit) start in {@code initial}. */
    public PageStateMap(long base, long limit, long pageSize, PageState initial) {
        if (Long.bitCount(pageSize) != 1) throw new IllegalArgumentException("page size must be a power of two");
        if (limit <= base) throw new IllegalArgumentException("empty range");
        this.base = base;
        this.limit = limit;
        this.pageSize = pageSize;
        checkAligned(base, limit);
        if (initial == PageState.PRIVATE) insert(base, limit);
    }

    public long base() { return base; }

    public long limit() { return limit; }

    public long pageSize() { return pageSize; }

    /** Bytes currently private. */
    public long privateBytes() { return privateBytes; }

    /** Number of maximal private runs. */
    public int privateRunCount() { return runCount; }

    public PageState stateAt(long addr) {
        checkInside(addr, addr + 1);
        return floorRunEnd(addr) > addr ? PageState.PRIVATE : PageState.SHARED;
    }

    /** Whether every page of [start, end) is in {@code state}. */
    public boolean isUniform(long start, long end, PageState state) {
        checkInside(start, end);
        if (start == end) return true;
        long floorEnd = floorRunEnd(start);
        if (state == PageState.PRIVATE) return floorEnd >= end;
        if (floorEnd > start) return false;
        return nextStartAfter(start) >= end;
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
        int removed = removeTouching(start, end);
        if (state == PageState.PRIVATE) {
            insert(removed > 0 ? Math.min(start, removedFirst) : start, removed > 0 ? Math.max(end, removedLast) : end);
        } else if (removed > 0) {
            // Only the first and the last run removed can stick out of [start, end).
            if (removedFirst < start) insert(removedFirst, start);
            if (removedLast > end) insert(end, removedLast);
        }
    }

    /** The runs of [start, end) in order, each with its state, covering the range exactly. */
    public List<Run> runs(long start, long end) {
        checkInside(start, end);
        List<Run> out = new ArrayList<>();
        long at = start;
        Map.Entry<Long, Chunk> e = chunks.floorEntry(start);
        int i;
        if (e == null) {
            e = chunks.firstEntry();
            i = 0;
        } else {
            i = e.getValue().floor(start);
        }
        while (e != null && at < end) {
            Chunk c = e.getValue();
            for (; i < c.n && at < end; i++) {
                long a = c.start(i);
                long b = c.end(i);
                if (b <= at) continue;
                if (a >= end) {
                    at = emitShared(out, at, end);
                    return out;
                }
                if (a > at) out.add(new Run(new GpaRange(at, a), PageState.SHARED));
                long stop = Math.min(b, end);
                out.add(new Run(new GpaRange(Math.max(a, at), stop), PageState.PRIVATE));
                at = stop;
            }
            e = chunks.higherEntry(e.getKey());
            i = 0;
        }
        emitShared(out, at, end);
        return out;
    }

    private static long emitShared(List<Run> out, long at, long end) {
        if (at < end) out.add(new Run(new GpaRange(at, end), PageState.SHARED));
        return end;
    }

    /** A maximal stretch of one state within a queried range. */
    public record Run(GpaRange range, PageState state) {}

    /** The end of the last run starting at or before {@code addr}, or {@code Long.MIN_VALUE} when there is none. */
    private long floorRunEnd(long addr) {
        Map.Entry<Long, Chunk> e = chunks.floorEntry(addr);
        if (e == null) return Long.MIN_VALUE;
        Chunk c = e.getValue();
        return c.end(c.floor(addr));
    }

    /** The start of the first run starting after {@code addr}, or {@code Long.MAX_VALUE}. */
    private long nextStartAfter(long addr) {
        Map.Entry<Long, Chunk> e = chunks.floorEntry(addr);
        if (e != null) {
            Chunk c = e.getValue();
            int i = c.floor(addr) + 1;
            if (i < c.n) return c.start(i);
            e = chunks.higherEntry(e.getKey());
        } else {
            e = chunks.firstEntry();
        }
        return e == null ? Long.MAX_VALUE : e.getValue().start(0);
    }

    /**
     * Removes every run that overlaps or touches [start, end]; they are consecutive. Returns how many, and leaves
     * the first one's start and the last one's end in {@link #removedFirst} and {@link #removedLast}.
     */
    private int removeTouching(long start, long end) {
        Map.Entry<Long, Chunk> e = chunks.floorEntry(start);
        int i;
        if (e == null) {
            e = chunks.firstEntry();
            i = 0;
        } else {
            Chunk c = e.getValue();
            i = c.floor(start);
            if (c.end(i) < start) i++;
        }
        int removed = 0;
        while (e != null) {
            Chunk c = e.getValue();
            long key = e.getKey();
            int j = i;
            while (j < c.n && c.start(j) <= end) j++;
            if (j > i) {
                if (removed == 0) removedFirst = c.start(i);
                removedLast = c.end(j - 1);
                for (int x = i; x < j; x++) privateBytes -= c.end(x) - c.start(x);
                removed += j - i;
                c.remove(i, j);
            }
            // Runs further on can only be affected when this chunk was consumed to its end.
            boolean more = i == c.n;
            Map.Entry<Long, Chunk> next = more ? chunks.higherEntry(key) : null;
            if (j > i) rechunk(key, c);
            if (!more) break;
            e = next;
            i = 0;
        }
        runCount -= removed;
        return removed;
    }

    /** After runs were removed from chunk {@code c} (indexed at {@code key}): drops, re-keys or merges it. */
    private void rechunk(long key, Chunk c) {
        if (c.n == 0) {
            chunks.remove(key);
            return;
        }
        if (c.start(0) != key) {
            chunks.remove(key);
            key = c.start(0);
            chunks.put(key, c);
        }
        if (c.n < MERGE_BELOW) {
            // Without merging, removals could leave a chunk per run and the memory bound would be lost.
            Map.Entry<Long, Chunk> prev = chunks.lowerEntry(key);
            if (prev != null && prev.getValue().n + c.n <= CHUNK) {
                prev.getValue().append(c);
                chunks.remove(key);
            }
        }
    }

    /** Adds the run [a, b), which neither overlaps nor touches any run. */
    private void insert(long a, long b) {
        privateBytes += b - a;
        runCount++;
        Map.Entry<Long, Chunk> e = chunks.floorEntry(a);
        if (e == null) e = chunks.firstEntry();
        if (e == null) {
            Chunk c = new Chunk(8);
            c.insert(0, a, b);
            chunks.put(a, c);
            return;
        }
        Chunk c = e.getValue();
        long key = e.getKey();
        int i = c.floor(a) + 1;
        if (c.n == CHUNK) {
            if (i == CHUNK && chunks.higherKey(key) == null) {
                // Appending past the last chunk, as a guest converting upward does: start a new chunk and keep
                // this one full, rather than leaving two half-empty ones.
                Chunk fresh = new Chunk(8);
                fresh.insert(0, a, b);
                chunks.put(a, fresh);
                return;
            }
            Chunk upper = new Chunk(CHUNK);
            int half = CHUNK / 2;
            System.arraycopy(c.r, 2 * half, upper.r, 0, 2 * (CHUNK - half));
            upper.n = CHUNK - half;
            c.n = half;
            chunks.put(upper.start(0), upper);
            if (i > half) {
                c = upper;
                key = upper.start(0);
                i -= half;
            }
        }
        c.insert(i, a, b);
        if (i == 0) {
            chunks.remove(key);
            chunks.put(a, c);
        }
    }

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
