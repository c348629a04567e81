package org.janus.benchmarks.scale;

import java.util.SplittableRandom;
import org.janus.memory.api.PageState;

/**
 * How a 1 TiB guest's private memory is fragmented into a million runs (the names are JMH parameter values), and
 * the pages a benchmark converts in it.
 */
public enum Layout {
    /**
     * Every other 4 KiB page private over the first 8 GiB (a million one-page runs, built upward), the rest shared;
     * conversions hit pages of that 8 GiB, so each one merges three runs into one or splits one into three.
     */
    ALTERNATE,
    /**
     * A million private runs of 1 to 64 pages, one at a random place in each 1 MiB of the 1 TiB, put in in a random
     * order (seeded); conversions hit random pages of the whole range.
     */
    RANDOM;

    public static final long TIB = 1L << 40;
    public static final long PAGE = 4096;
    public static final int FRAGMENTS = 1 << 20;
    public static final long SEED = 0x6a616e7573L;

    /** Makes {@code tracker}'s private runs this layout's million. */
    public void build(Tracker tracker) {
        switch (this) {
            case ALTERNATE -> {
                for (long i = 0; i < FRAGMENTS; i++) tracker.set(2 * i * PAGE, (2 * i + 1) * PAGE, PageState.PRIVATE);
            }
            case RANDOM -> {
                SplittableRandom random = new SplittableRandom(SEED);
                int[] order = new int[FRAGMENTS];
                for (int i = 0; i < FRAGMENTS; i++) order[i] = i;
                for (int i = FRAGMENTS - 1; i > 0; i--) {
                    int j = random.nextInt(i + 1);
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
                long slot = TIB / FRAGMENTS;                 // 1 MiB = 256 pages
                long slotPages = slot / PAGE;
                for (int k : order) {
                    // Seeded per slot, so the layout does not depend on the order it is built in.
                    SplittableRandom r = new SplittableRandom(SEED ^ (k * 0x9E3779B97F4A7C15L));
                    long pages = 1 + r.nextLong(64);
                    // Never the slot's last page: runs of neighbouring slots must not touch and merge.
                    long first = r.nextLong(slotPages - pages);
                    long start = k * slot + first * PAGE;
                    tracker.set(start, start + pages * PAGE, PageState.PRIVATE);
                }
            }
        }
        if (tracker.privateRunCount() != FRAGMENTS)
            throw new IllegalStateException(this + ": " + tracker.privateRunCount() + " runs, not " + FRAGMENTS);
    }

    /** {@code count} pages (addresses) for conversions, seeded. */
    public long[] targets(int count) {
        SplittableRandom random = new SplittableRandom(SEED + 1);
        long span = this == ALTERNATE ? 2L * FRAGMENTS : TIB / PAGE;
        long[] out = new long[count];
        for (int i = 0; i < count; i++) out[i] = random.nextLong(span) * PAGE;
        return out;
    }
}
