package org.janus.benchmarks.sections;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.janus.benchmarks.memory.GuestMemory;
import org.janus.benchmarks.report.Goal;
import org.janus.benchmarks.report.Report;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Results;
import org.janus.benchmarks.report.Section;

/** Legacy RAM whose shared face is on hugetlb pages, next to 4K-backed legacy and in place ({@code GuestMemory --huge}). */
public final class HugePagesSection implements Section {
    public static final String FILE = "huge-pages.json";
    static final double M = 1 << 20;

    @Override public String title() { return "Large pages: legacy on hugetlb"; }

    @Override public List<String> inputs() { return List.of(FILE); }

    @Override public List<String> goals() { return List.of("legacy with discard on 2 MiB hugetlb pages: memory after 4K conversions"); }

    @Override public Rendered render(ReportContext c) throws IOException {
        GuestMemory.Json json = Results.GSON.fromJson(c.json(FILE), GuestMemory.Json.class);
        StringBuilder md = new StringBuilder();
        md.append("The legacy backend can put the shared face of RAM on huge pages: `\"memory\": { \"backend\": \"legacy\", \"hugePages\": \"2M\" }` ")
                .append("creates the shared memfd with `MFD_HUGETLB | MFD_HUGE_2MB` (the software KVM's memfds are real, so this is the ")
                .append("kernel's hugetlbfs). The benchmark reserves the pages through `/proc/sys/vm/nr_hugepages` and restores the pool ")
                .append("after. The guest (`sub-pages`, two vCPUs) writes each 2 MiB page while shared, then converts it to private 4 KiB ")
                .append("at a time and writes each page once private. Allocated is `st_blocks` of the memfds (hugetlbfs counts whole huge ")
                .append("pages); HugePages_* are /proc/meminfo's, sampled every 25 ms.\n\n")
                .append("A hugetlb-backed guest_memfd (huge pages for the private face, and in place) is a separate kernel series in no ")
                .append("kernel we have: it is not modelled, and in-place RAM refuses `hugePages`.\n\n");
        md.append("| strategy | shared face | guest | peak allocated MiB | × guest | final allocated MiB | HugePages_Free before / lowest / after ")
                .append("| huge pages held (peak) | run |\n|---|---|---:|---:|---:|---:|---|---:|---|\n");
        List<Goal> goals = new ArrayList<>();
        GuestMemory.Run hugeDiscard = null, smallDiscard = null, inPlace = null;
        for (GuestMemory.Run r : json.runs()) {
            boolean ok = r.outcome().equals("ok");
            GuestMemory.HugeCounters h = r.huge();
            md.append("| ").append(Strategy.valueOf(r.strategy()).label()).append(" | ").append(r.hugePageSize() == 0 ? "4 KiB pages" : "2 MiB hugetlb")
                    .append(" | ").append(r.guestBytes() >> 20).append(" MiB | ").append(ok ? Report.num(r.peakAllocated() / M, 0) : "–").append(" | ")
                    .append(ok ? Report.num(r.peakAllocated() / (double) r.guestBytes(), 3) : "–").append(" | ")
                    .append(ok ? Report.num(r.finalAllocated() / M, 0) : "–").append(" | ")
                    .append(h == null ? "–" : h.freeBefore() + " / " + h.freeLowest() + " / " + h.freeAfter()).append(" | ")
                    .append(h == null ? "–" : Long.toString(h.freeBefore() - h.freeLowest())).append(" | ")
                    .append(ok ? Report.num(r.seconds(), 0) + " s" : Report.cell(r.outcome())).append(" |\n");
            if (!ok) continue;
            if (r.strategy().equals(Strategy.LEGACY_DISCARD.name()) && r.hugePageSize() != 0) hugeDiscard = r;
            if (r.strategy().equals(Strategy.LEGACY_DISCARD.name()) && r.hugePageSize() == 0) smallDiscard = r;
            if (r.strategy().equals(Strategy.IN_PLACE.name())) inPlace = r;
        }
        md.append('\n');
        String what = "legacy with discard on 2 MiB hugetlb pages: memory after 4K conversions";
        if (hugeDiscard == null || smallDiscard == null || inPlace == null) {
            goals.add(Goal.notMeasured(what, "a run is missing or failed: see the table"));
        } else {
            double x = hugeDiscard.finalAllocated() / (double) hugeDiscard.guestBytes();
            goals.add(new Goal(what, "doubling shown, next to 4K legacy and in place",
                    Report.num(x, 2) + "× guest (4K-backed legacy " + Report.num(smallDiscard.finalAllocated() / (double) smallDiscard.guestBytes(), 2)
                            + "×, in place " + Report.num(inPlace.finalAllocated() / (double) inPlace.guestBytes(), 2) + "×)", Goal.Status.SHOWN, ""));
            md.append("Reading it: every 4 KiB conversion to private punches 4 KiB of the shared face. On 4 KiB pages that frees the page; on ")
                    .append("hugetlb it only zeroes 4 KiB inside a 2 MiB page that stays allocated (hugetlbfs frees only huge pages a hole ")
                    .append("covers whole), so the shared face keeps all ").append(hugeDiscard.guestBytes() >> 20).append(" MiB while the private ")
                    .append("face fills up: ").append(Report.num(x, 2)).append("× the guest, the pool's huge pages held until the VM ends.\n");
        }
        return new Rendered(md.toString(), goals);
    }
}
