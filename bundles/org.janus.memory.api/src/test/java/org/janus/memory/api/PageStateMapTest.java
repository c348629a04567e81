package org.janus.memory.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class PageStateMapTest {
    private static final long P = 4096;
    private static final int PAGES = 64;

    record Op(int from, int to, PageState state) {}

    static Stream<Long> seeds() { return LongStream.range(0, 300).boxed(); }

    /**
     * After a random sequence of conversions (the seed reproduces it) the map agrees page by page with a bitmap,
     * and its runs stay maximal.
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void agreesWithABitmap(long seed) {
        Random random = new Random(seed);
        PageState initial = random.nextBoolean() ? PageState.PRIVATE : PageState.SHARED;
        PageStateMap map = new PageStateMap(0x100000, 0x100000 + PAGES * P, P, initial);
        BitSet reference = new BitSet(PAGES);
        if (initial == PageState.PRIVATE) reference.set(0, PAGES);
        int steps = random.nextInt(60);
        for (int step = 0; step < steps; step++) {
            int x = random.nextInt(PAGES + 1), y = random.nextInt(PAGES + 1);
            // Bias toward small ranges and exact edges, where run merging and splitting go wrong.
            if (random.nextInt(3) == 0) y = Math.min(PAGES, x + random.nextInt(3));
            Op op = new Op(Math.min(x, y), Math.max(x, y), random.nextBoolean() ? PageState.PRIVATE : PageState.SHARED);
            map.set(0x100000 + op.from() * P, 0x100000 + op.to() * P, op.state());
            reference.set(op.from(), op.to(), op.state() == PageState.PRIVATE);
            for (int i = 0; i < PAGES; i++)
                assertEquals(reference.get(i) ? PageState.PRIVATE : PageState.SHARED, map.stateAt(0x100000 + i * P), "page " + i);
            assertEquals(reference.cardinality() * P, map.privateBytes());
            int runs = 0;
            for (int i = 0; i < PAGES; i++) if (reference.get(i) && (i == 0 || !reference.get(i - 1))) runs++;
            assertEquals(runs, map.privateRunCount(), "runs must stay maximal");
            int a = Math.min(op.from(), PAGES - 1), b = Math.max(a + 1, op.to());
            boolean allPrivate = reference.get(a, b).cardinality() == b - a;
            assertEquals(allPrivate, map.isUniform(0x100000 + a * P, 0x100000 + b * P, PageState.PRIVATE));
            assertEquals(reference.get(a, b).isEmpty(), map.isUniform(0x100000 + a * P, 0x100000 + b * P, PageState.SHARED));
        }
    }

    /**
     * Thousands of runs, so that the chunks the runs are kept in split, empty, merge and change their first run:
     * random conversions of a few pages against a bitmap, checked in full every 500 steps, then the runs removed
     * again from every other place.
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("fewSeeds")
    void agreesWithABitmapAcrossManyChunks(long seed) {
        Random random = new Random(seed);
        int pages = 40_000;
        PageStateMap map = new PageStateMap(0, pages * P, P, PageState.SHARED);
        BitSet reference = new BitSet(pages);
        for (int step = 0; step < 20_000; step++) {
            int from = random.nextInt(pages);
            int to = Math.min(pages, from + 1 + random.nextInt(step % 7 == 0 ? 300 : 3));
            boolean toPrivate = random.nextInt(5) < (step < 10_000 ? 3 : 2);
            map.set(from * P, to * P, toPrivate ? PageState.PRIVATE : PageState.SHARED);
            reference.set(from, to, toPrivate);
            if (step % 500 == 499) assertSame(reference, map, pages);
        }
        assertSame(reference, map, pages);
        assertTrue(map.privateRunCount() > 3 * 128, "the runs must span several chunks: " + map.privateRunCount());
        for (int p = 0; p < pages; p += 2) {
            map.set(p * P, (p + 1) * P, PageState.SHARED);
            reference.clear(p);
        }
        assertSame(reference, map, pages);
    }

    static Stream<Long> fewSeeds() { return LongStream.range(0, 8).boxed(); }

    /** Every page's state, the private bytes, the run count and the runs of the whole range against the bitmap. */
    private static void assertSame(BitSet reference, PageStateMap map, int pages) {
        int runs = 0;
        for (int i = reference.nextSetBit(0); i >= 0; i = reference.nextSetBit(reference.nextClearBit(i))) runs++;
        assertEquals(runs, map.privateRunCount(), "runs must stay maximal");
        assertEquals(reference.cardinality() * P, map.privateBytes());
        long at = 0;
        for (PageStateMap.Run run : map.runs(0, pages * P)) {
            assertEquals(at, run.range().start(), "runs must cover the range in order");
            for (long a = run.range().start(); a < run.range().end(); a += P)
                assertEquals(run.state() == PageState.PRIVATE, reference.get((int) (a / P)), "page " + a / P);
            at = run.range().end();
        }
        assertEquals(pages * P, at);
        for (int i = 0; i < pages; i += 97)
            assertEquals(reference.get(i) ? PageState.PRIVATE : PageState.SHARED, map.stateAt(i * P), "page " + i);
    }

    @Test
    void runsCoverTheQueriedRangeExactly() {
        PageStateMap map = new PageStateMap(0, 16 * P, P, PageState.SHARED);
        map.set(2 * P, 4 * P, PageState.PRIVATE);
        map.set(6 * P, 7 * P, PageState.PRIVATE);
        List<PageStateMap.Run> runs = map.runs(3 * P, 8 * P);
        assertEquals(List.of(
                new PageStateMap.Run(new GpaRange(3 * P, 4 * P), PageState.PRIVATE),
                new PageStateMap.Run(new GpaRange(4 * P, 6 * P), PageState.SHARED),
                new PageStateMap.Run(new GpaRange(6 * P, 7 * P), PageState.PRIVATE),
                new PageStateMap.Run(new GpaRange(7 * P, 8 * P), PageState.SHARED)), runs);
        assertEquals(2 * P, map.privateBytesIn(3 * P, 8 * P));
    }

    @Test
    void refusesMisalignedAndOutsideRanges() {
        PageStateMap map = new PageStateMap(0, 16 * P, P, PageState.SHARED);
        assertThrows(IllegalArgumentException.class, () -> map.set(1, P, PageState.PRIVATE));
        assertThrows(IllegalArgumentException.class, () -> map.set(0, 17 * P, PageState.PRIVATE));
        assertEquals(0, map.privateBytes());
    }

    /** A terabyte guest fragmented into a million private runs: each conversion stays cheap, memory follows runs. */
    @Test
    void aTerabyteGuestWithAMillionFragments() {
        long tib = 1L << 40;
        PageStateMap map = new PageStateMap(0, tib, P, PageState.SHARED);
        long stride = tib / 1_000_000 & -P;
        for (long i = 0; i < 1_000_000; i++) map.set(i * stride, i * stride + P, PageState.PRIVATE);
        assertEquals(1_000_000, map.privateRunCount());
        assertEquals(1_000_000 * P, map.privateBytes());
        map.set(0, tib, PageState.PRIVATE);
        assertEquals(1, map.privateRunCount());
        assertTrue(map.isUniform(0, tib, PageState.PRIVATE));
    }
}
