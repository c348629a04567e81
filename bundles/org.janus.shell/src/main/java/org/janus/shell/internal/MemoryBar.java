package org.janus.shell.internal;

import java.math.BigInteger;
import java.util.List;
import org.janus.machine.RegionMap;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;

/**
 * One RAM region's private and shared ranges as text: a bar of {@value #WIDTH} characters, each standing for
 * 1/{@value #WIDTH} of the region ({@code P} all private, {@code .} all shared, {@code p} both), then the runs.
 */
final class MemoryBar {
    static final int WIDTH = 64;
    /** Runs listed per region; the rest are counted. */
    static final int LISTED_RUNS = 16;

    private MemoryBar() {}

    /** The bar alone: character {@code i} covers [gpa + size*i/64, gpa + size*(i+1)/64). */
    static String bar(RegionMap r) {
        long[] privateBytes = new long[WIDTH];
        for (PageStateMap.Run run : r.runs()) {
            if (run.state() != PageState.PRIVATE) continue;
            long start = run.range().start() - r.gpa();
            long end = run.range().end() - r.gpa();
            int first = cell(start, r.size());
            int last = cell(end - 1, r.size());
            for (int i = first; i <= last; i++) {
                long overlap = Math.min(end, cellEnd(i, r.size())) - Math.max(start, cellStart(i, r.size()));
                if (overlap > 0) privateBytes[i] += overlap;
            }
        }
        StringBuilder sb = new StringBuilder(WIDTH);
        for (int i = 0; i < WIDTH; i++) {
            long cell = cellEnd(i, r.size()) - cellStart(i, r.size());
            sb.append(privateBytes[i] == 0 ? '.' : privateBytes[i] >= cell ? 'P' : 'p');
        }
        return sb.toString();
    }

    /** The region's block: its line with the bar, then one line per run (at most {@value #LISTED_RUNS}). */
    static String describe(RegionMap r) {
        long priv = r.runs().stream().filter(x -> x.state() == PageState.PRIVATE).mapToLong(x -> x.range().size()).sum();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-10s 0x%012x %9s %-12s |%s| %s private, %s shared%n", r.name(), r.gpa(), size(r.size()), r.backend(),
                bar(r), size(priv), size(r.size() - priv)));
        List<PageStateMap.Run> runs = r.runs();
        for (int i = 0; i < Math.min(LISTED_RUNS, runs.size()); i++) {
            PageStateMap.Run run = runs.get(i);
            sb.append(String.format("    0x%012x-0x%012x %9s %s%n", run.range().start(), run.range().end() - 1, size(run.range().size()),
                    run.state() == PageState.PRIVATE ? "private" : "shared"));
        }
        if (runs.size() > LISTED_RUNS) sb.append(String.format("    ... %d more runs%n", runs.size() - LISTED_RUNS));
        return sb.toString();
    }

    /** Where cell {@code i} starts, as an offset into the region: size*i/64, exactly. */
    private static long cellStart(int i, long size) {
        return BigInteger.valueOf(size).multiply(BigInteger.valueOf(i)).divide(BigInteger.valueOf(WIDTH)).longValueExact();
    }

    private static long cellEnd(int i, long size) { return cellStart(i + 1, size); }

    /** The cell holding byte {@code offset} of the region. */
    private static int cell(long offset, long size) {
        int i = BigInteger.valueOf(offset).multiply(BigInteger.valueOf(WIDTH)).divide(BigInteger.valueOf(size)).intValue();
        i = Math.max(0, Math.min(WIDTH - 1, i));
        while (i > 0 && cellStart(i, size) > offset) i--;
        while (i < WIDTH - 1 && cellEnd(i, size) <= offset) i++;
        return i;
    }

    /** Bytes in binary units: {@code 4K}, {@code 2M}, {@code 1.5G}. */
    static String size(long bytes) {
        String[] units = {"", "K", "M", "G", "T", "P"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        if (u == 0) return bytes + "B";
        return (v == Math.floor(v) ? String.valueOf((long) v) : String.format("%.1f", v)) + units[u];
    }
}
