package org.janus.benchmarks.scale;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.janus.benchmarks.report.Results;
import org.openjdk.jol.info.GraphLayout;

/**
 * The heap the page-state tracker of a 1 TiB guest with a million fragments retains, for the current tracker and
 * the baseline, in each {@link Layout}, measured two ways: the retained size of its object graph (JOL's
 * {@link GraphLayout}, which walks every object reachable from the tracker and adds up their sizes), and the used
 * heap after full collections before and after building it. Goal (issue 13, item 6): ≤ 64 MiB.
 *
 * <p>Usage: {@code TrackerFootprint --out RESULTS.json}; prints a table and writes the results.
 */
public final class TrackerFootprint {
    /** One tracker in one layout: its runs, its retained bytes (JOL), and the heap growth (GC'd). */
    public record Figure(String tracker, String layout, int runs, long retainedBytes, long heapGrowthBytes,
                         long objects) {}

    private TrackerFootprint() {}

    public static void main(String[] args) {
        if (args.length != 2 || !args[0].equals("--out")) {
            System.err.println("usage: TrackerFootprint --out RESULTS.json");
            System.exit(2);
        }
        List<Figure> figures = measureAll();
        for (Figure f : figures)
            System.out.printf(Locale.ROOT, "%-8s %-9s %8d runs  retained %7.1f MiB  heap growth %7.1f MiB  %9d objects%n",
                    f.tracker(), f.layout(), f.runs(), f.retainedBytes() / 1048576.0, f.heapGrowthBytes() / 1048576.0, f.objects());
        Results.write(Path.of(args[1]), figures);
    }

    public static List<Figure> measureAll() {
        List<Figure> out = new ArrayList<>();
        for (Layout layout : Layout.values())
            for (Tracker.Kind kind : Tracker.Kind.values()) out.add(measure(kind, layout));
        return out;
    }

    static Figure measure(Tracker.Kind kind, Layout layout) {
        long before = usedAfterGc();
        Tracker tracker = Tracker.create(kind, Layout.TIB, Layout.PAGE);
        layout.build(tracker);
        long after = usedAfterGc();
        GraphLayout graph = GraphLayout.parseInstance(tracker.target());
        Figure f = new Figure(kind.name(), layout.name(), tracker.privateRunCount(), graph.totalSize(), after - before,
                graph.totalCount());
        // Keeps the tracker reachable until after the second measurement.
        if (tracker.privateRunCount() < 0) throw new AssertionError();
        return f;
    }

    /** Used heap after full collections, repeated until it stops falling. */
    static long usedAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long last = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            System.gc();
            long used = memory.getHeapMemoryUsage().getUsed();
            if (used >= last) return used;
            last = used;
        }
        return last;
    }
}
