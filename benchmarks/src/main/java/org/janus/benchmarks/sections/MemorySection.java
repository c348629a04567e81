package org.janus.benchmarks.sections;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.janus.benchmarks.memory.GuestMemory;
import org.janus.benchmarks.report.Charts;
import org.janus.benchmarks.report.Goal;
import org.janus.benchmarks.report.Report;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Results;
import org.janus.benchmarks.report.Section;

/** {@link GuestMemory}: peak and final memory of guests under each strategy, and Janus's own overhead per VM. */
public final class MemorySection implements Section {
    public static final String FILE = "guest-memory.json";
    static final double M = 1 << 20;

    @Override public String title() { return "Memory of a guest under each strategy"; }

    @Override public List<String> inputs() { return List.of(FILE); }

    @Override public List<String> goals() {
        return List.of("in place: peak allocated / guest memory", "legacy without discard: peak allocated / guest memory",
                "Janus's own overhead per VM");
    }

    @Override public Rendered render(ReportContext c) throws IOException {
        GuestMemory.Json json = Results.GSON.fromJson(c.json(FILE), GuestMemory.Json.class);
        StringBuilder md = new StringBuilder();
        md.append("`org.janus.benchmarks.memory.GuestMemory`: each guest, size and strategy in a JVM of its own, one at a time, two vCPUs, ")
                .append("on the software KVM with real memfd memory. **Allocated** is `st_blocks` of every memfd behind guest RAM (legacy's ")
                .append("shared faces and the guest_memfds), sampled every 25 ms while the guest runs (peak) and at its end (final); ")
                .append("**resident** is the process's `RssShmem` over what it was before the VM (guest memory is shmem mapped into ")
                .append("Janus), peak, and at the end the backends' own figure (`mincore`). Janus's **own** overhead per VM: heap used ")
                .append("after a GC and `RssAnon` once the VM is created, over the process before it, and `RssAnon`'s peak while it runs.\n\n")
                .append("Guests: `conversion-storm` (sw-protected; random 4K/2M/1G ranges converted to private, up to 4096 pages of each ")
                .append("written, converted back and read; 24 iterations per vCPU), `linux-snp-boot` (SEV-SNP booting OVMF; the guest ")
                .append("validates and accepts all but 64 MiB of its largest RAM region as a Linux guest accepting memory does, plus its ")
                .append("SWIOTLB and GHCBs shared) and `round-trip` (every page written shared, then each 2 MiB converted to private, ")
                .append("written, converted back and written: every page used on both sides).\n\n");
        md.append("| guest | size | strategy | peak allocated MiB | × guest | final allocated MiB | peak resident MiB | final resident MiB | Janus heap MiB | ")
                .append("Janus RssAnon MiB | peak RssAnon MiB | run |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        List<String> cats = new ArrayList<>();
        Map<String, List<Double>> series = new LinkedHashMap<>();
        for (Strategy s : Strategy.values()) series.put(s.label(), new ArrayList<>());
        double worstInPlace = 0, bestKeep = 0;
        String worstInPlaceWhere = "", bestKeepWhere = "";
        long maxHeap = 0, maxRss = 0;
        boolean allOk = true;
        for (GuestMemory.Run r : json.runs()) {
            boolean ok = r.outcome().equals("ok");
            allOk &= ok;
            double x = r.peakAllocated() / (double) r.guestBytes();
            String where = r.guest() + " " + size(r.guestBytes());
            md.append("| ").append(r.guest()).append(" | ").append(size(r.guestBytes())).append(" | ").append(Strategy.valueOf(r.strategy()).label())
                    .append(" | ").append(mib(r.peakAllocated())).append(" | ").append(Report.num(x, 3)).append(" | ").append(mib(r.finalAllocated()))
                    .append(" | ").append(mib(r.peakResident())).append(" | ").append(mib(r.finalResident())).append(" | ")
                    .append(mib1(r.heapOverhead())).append(" | ").append(mib1(r.rssOverhead())).append(" | ").append(mib1(r.peakRssOverhead()))
                    .append(" | ").append(ok ? Report.num(r.seconds(), 0) + " s" : Report.cell(r.outcome())).append(" |\n");
            String cat = r.guest() + " " + size(r.guestBytes());
            if (!cats.contains(cat)) cats.add(cat);
            series.get(Strategy.valueOf(r.strategy()).label()).add(ok ? x : 0);
            if (!ok) continue;
            if (r.strategy().equals(Strategy.IN_PLACE.name()) && x >= worstInPlace) {
                worstInPlace = x;
                worstInPlaceWhere = where;
            }
            if (r.strategy().equals(Strategy.LEGACY_KEEP.name()) && x >= bestKeep) {
                bestKeep = x;
                bestKeepWhere = where;
            }
            maxHeap = Math.max(maxHeap, r.heapOverhead());
            maxRss = Math.max(maxRss, r.peakRssOverhead());
        }
        md.append('\n');
        Charts.bars(c.chartFile("memory"), "Peak allocated guest memory / guest size", "× guest memory", cats, series);
        md.append(c.chartImage("memory", "peak allocated memory over guest size")).append("\n\n");
        md.append("Reading it: in place, one page per guest page, at most; legacy with discard also ends near one face per page, but ")
                .append("between a conversion and the first touch of the new face the page exists on neither side, and its contents are gone; ")
                .append("legacy without discard keeps every page the guest used on both sides: the round trip, which uses every page on ")
                .append("both sides, doubles the guest. The storm and the SNP boot touch only part of their RAM, so their figures are ")
                .append("below the guest size for every strategy.\n");
        List<Goal> goals = new ArrayList<>();
        goals.add(Goal.check("in place: peak allocated / guest memory", "≤ 1.05×", Report.num(worstInPlace, 3) + "× (highest: " + worstInPlaceWhere + ")",
                worstInPlace <= 1.05 && allOk, allOk ? "" : "a run failed: see the table"));
        goals.add(new Goal("legacy without discard: peak allocated / guest memory", "doubling shown", Report.num(bestKeep, 3) + "× (" + bestKeepWhere + ")",
                Goal.Status.SHOWN, ""));
        goals.add(new Goal("Janus's own overhead per VM", "shown", "heap ≤ " + mib1(maxHeap) + " MiB, RssAnon peak ≤ " + mib1(maxRss) + " MiB",
                Goal.Status.SHOWN, ""));
        return new Rendered(md.toString(), goals);
    }

    private static String mib(long b) { return b < 0 ? "n/a" : Report.num(b / M, 0); }

    private static String mib1(long b) { return b == -1 ? "n/a" : Report.num(b / M, 1); }

    private static String size(long b) { return b >= (1L << 30) ? (b >> 30) + " GiB" : (b >> 20) + " MiB"; }
}
