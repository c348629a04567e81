package org.janus.benchmarks.scale;

import java.util.concurrent.TimeUnit;
import org.janus.memory.api.PageState;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The page-state tracker of a 1 TiB guest whose private memory is a million fragments ({@link Layout}): the latency
 * of one 4 KiB conversion, as percentiles (SampleTime), for the current tracker and the baseline it replaced, in
 * the same run. Each invocation converts one page to the state it is not in; the next converts it back, so the
 * layout stays a million fragments throughout. The state each page starts in is looked up once at setup, so an
 * invocation is exactly one {@code set}.
 *
 * <p>Goal (issue 13, item 6): p99 ≤ 10 µs. The heap each tracker retains is {@link TrackerFootprint}'s.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
public class PageStateScale {
    private static final int TARGETS = 1 << 16;

    @Param({"CHUNKED", "TREEMAP"})
    public Tracker.Kind tracker;

    @Param({"ALTERNATE", "RANDOM"})
    public Layout layout;

    private Tracker map;
    private long[] targets;
    private boolean[] privateAtStart;
    private int next;

    @Setup(Level.Trial)
    public void build() {
        map = Tracker.create(tracker, Layout.TIB, Layout.PAGE);
        layout.build(map);
        targets = layout.targets(TARGETS);
        privateAtStart = new boolean[TARGETS];
        for (int i = 0; i < TARGETS; i++) privateAtStart[i] = map.stateAt(targets[i]) == PageState.PRIVATE;
        // Building a million runs leaves garbage and a full old generation behind; without a full collection here the
        // collector's concurrent work from the build runs into the first measured iterations (their p99 rose tenfold).
        System.gc();
        System.gc();
    }

    /** One 4 KiB conversion: to the other state on even calls, back on odd ones. */
    @Benchmark
    public int convert4K() {
        int k = next++;
        int i = (k >>> 1) & (TARGETS - 1);
        boolean toPrivate = privateAtStart[i] == ((k & 1) == 1);
        long a = targets[i];
        map.set(a, a + Layout.PAGE, toPrivate ? PageState.PRIVATE : PageState.SHARED);
        return k;
    }
}
