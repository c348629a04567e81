package org.janus.benchmarks.sections;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.janus.benchmarks.conversion.ConversionCost;
import org.janus.benchmarks.report.Charts;
import org.janus.benchmarks.report.Goal;
import org.janus.benchmarks.report.Report;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Results;
import org.janus.benchmarks.report.Section;

/** {@link ConversionCost}: per-conversion cost through the vCPU exit loop against the C floor of the same run. */
public final class ConversionCostSection implements Section {
    public static final String FILE = "conversion-cost.json";

    @Override public String title() { return "Conversion cost against the kernel floor"; }

    @Override public List<String> inputs() { return List.of(FILE); }

    @Override public List<String> goals() {
        List<String> g = new ArrayList<>();
        for (Strategy s : Strategy.values()) {
            g.add("4K conversion, " + s.label() + ", 1 vCPU: Janus over the floor (p50)");
            g.add("4K conversion, " + s.label() + ": Janus's own work over the floor's kernel operation (JMH p50)");
            g.add("2M request vs 512 4K requests, " + s.label());
        }
        g.add("in place: pages allocated per conversion");
        return g;
    }

    @Override public Rendered render(ReportContext c) throws IOException {
        ConversionCost.Json json = Results.GSON.fromJson(c.json(FILE), ConversionCost.Json.class);
        List<ConversionCost.Row> rows = json.rows();
        StringBuilder md = new StringBuilder();
        md.append("`org.janus.benchmarks.conversion.ConversionCost`. A VM on the software KVM, with real memfd memory, built by the ")
                .append("machine's VM manager as `janus run` builds one (sw-protected platform, one RAM region); its guest (one guest ")
                .append("program per vCPU, each with its own share of RAM) first writes every page, then converts units of 4 KiB, 2 MiB or ")
                .append("1 GiB to private and back with `MAP_GPA_RANGE` (with the unit's page-size code), each conversion followed by one ")
                .append("write into every 4 KiB page of the unit (which is what faults the new face in on legacy). Each conversion is ")
                .append("timed in the guest: the **request** (the hypercall's exit, the exit loop, the conversion engine, the backend, ")
                .append("the ioctls, the resume) and the **total** (request + touch). Pages allocated per conversion are counted from ")
                .append("the memfds behind the unit (`SEEK_DATA`/`SEEK_HOLE`, range by range, untimed).\n\n")
                .append("The **floor** is `benchmarks/src/main/c/conversion_floor.c`, compiled by the benchmark (").append(json.gcc())
                .append(") and run right before each configuration with as many threads: only the kernel-side work of the same ")
                .append("conversions. In place, what the software KVM's kernel does per conversion: `mprotect` of the host's ")
                .append("mapping of the page (none while private, read-write while shared); legacy with discard: `fallocate(PUNCH_HOLE)` of ")
                .append("the face the page left; legacy without discard: nothing; then the same touch of every page. Its **op** is the ")
                .append("kernel operation alone. Latencies in µs; conversions/s from the timed conversions (summed over vCPUs).\n\n");
        md.append("| strategy | unit | vCPUs | conv/s Janus | conv/s floor | Janus p50 / p99 / max | floor p50 / p99 / max | Janus / floor (p50) ")
                .append("| Janus − floor (p50) | request p50 | floor op p50 | pages allocated per conversion: Janus / floor |\n")
                .append("|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|---|\n");
        for (ConversionCost.Row r : rows) {
            ConversionCost.Side j = r.janus(), f = r.floor();
            md.append("| ").append(label(r)).append(" | ").append(r.unit()).append(" | ").append(r.vcpus()).append(" | ")
                    .append(rate(j.conversionsPerSecond())).append(" | ").append(rate(f.conversionsPerSecond())).append(" | ")
                    .append(lat(j.total())).append(" | ").append(lat(f.total())).append(" | ")
                    .append(Report.num(j.total().p50() / (double) f.total().p50(), 2)).append("× | ")
                    .append(us(j.total().p50() - f.total().p50())).append(" | ")
                    .append(us(j.request().p50())).append(" | ").append(us(f.request().p50())).append(" | ")
                    .append(Report.num(j.pagesAllocatedPerConversion(), 2)).append(" / ").append(Report.num(f.pagesAllocatedPerConversion(), 2))
                    .append(" |\n");
        }
        md.append('\n');

        List<String> cats = new ArrayList<>();
        Map<String, List<Double>> series = new LinkedHashMap<>();
        series.put("Janus p50", new ArrayList<>());
        series.put("floor p50", new ArrayList<>());
        for (ConversionCost.Row r : rows) {
            if (!r.unit().equals("4K")) continue;
            cats.add(label(r) + ", " + r.vcpus() + " vCPU");
            series.get("Janus p50").add(r.janus().total().p50() / 1e3);
            series.get("floor p50").add(r.floor().total().p50() / 1e3);
        }
        if (!cats.isEmpty()) {
            Charts.bars(c.chartFile("conversion-4k"), "4K conversion (request + touch), p50", "µs", cats, series);
            md.append(c.chartImage("conversion-4k", "4K conversion latency, Janus and floor")).append("\n\n");
        }

        // What each 4K request is made of, from this run: the sim's bare exit round trip, Janus's exit handling (a request
        // that changes nothing), and Janus's conversion work without the exit loop (JMH, when it ran).
        Map<String, Double> engineP50 = new LinkedHashMap<>();
        if (java.nio.file.Files.exists(c.results().resolve(EngineSection.FILE)))
            for (org.janus.benchmarks.report.Jmh.Row j : org.janus.benchmarks.report.Jmh.read(c, EngineSection.FILE))
                engineP50.put(j.params().get("strategy"), j.percentile("50.0"));
        ConversionCost.Latency sim = json.simExit();
        md.append("**What a 4K request is made of** (p50, µs, 1 vCPU, this run): the software KVM's own exit round trip, measured with ")
                .append("a bare `KVM_RUN` loop and no Janus: **").append(sim == null ? "n/a" : us(sim.p50())).append("**. It is a hand-off ")
                .append("between the guest program's thread and the vCPU thread (the model runs the guest on a thread of its own), where real ")
                .append("KVM returns from the `KVM_RUN` ioctl on the same thread. The figures below come from separate measurements ")
                .append("(the bare loop once, the no-op requests after the conversions of each configuration, JMH in its own step) on a machine others share: a ")
                .append("difference smaller than their noise can come out negative.\n\n")
                .append("| strategy | request | no-op request (exit + Janus's exit handling) | Janus's exit handling (no-op − bare exit) ")
                .append("| Janus's conversion work, JMH (engine + backend + kernel op) | floor op | Janus's own work over the floor op |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|\n");
        Map<Strategy, String> bound = new java.util.EnumMap<>(Strategy.class);
        List<String> hot = EngineSection.hotFrames(c, 6);
        Map<Strategy, Double> ownOver = new java.util.EnumMap<>(Strategy.class);
        for (Strategy s : Strategy.values()) {
            ConversionCost.Row r = find(rows, s, "4K", 1);
            if (r == null || r.janus().noop() == null) continue;
            double req = r.janus().request().p50() / 1e3, noop = r.janus().noop().p50() / 1e3, op = r.floor().request().p50() / 1e3;
            double bare = sim == null ? Double.NaN : sim.p50() / 1e3;
            Double engine = engineP50.get(s.name());
            double own = engine == null ? Double.NaN : engine - op;
            if (engine != null) ownOver.put(s, own);
            md.append("| ").append(s.label()).append(" | ").append(Report.num(req, 1)).append(" | ").append(Report.num(noop, 1)).append(" | ")
                    .append(Report.num(noop - bare, 1)).append(" | ").append(engine == null ? "n/a" : Report.num(engine, 2)).append(" | ")
                    .append(Report.num(op, 2)).append(" | ").append(engine == null ? "n/a" : (own >= 0 ? "+" : "") + Report.num(own, 2)).append(" |\n");
            bound.put(s, "bounded by the software KVM's exit: its bare round trip (the guest/vCPU thread hand-off, no VMM at all) is "
                    + Report.num(bare, 1) + " µs p50 in this run, against a " + Report.num(req, 1) + " µs request and a no-op request of "
                    + Report.num(noop, 1) + " µs" + (engine == null ? "" : "; Janus's conversion work without the exit (JMH, engine + backend + "
                    + "kernel op) is " + Report.num(engine, 2) + " µs against the floor's " + Report.num(op, 2) + " µs kernel operation")
                    + (hot.isEmpty() ? "" : "; JFR of the engine benchmark (legacy without discard), on top of the stack: " + String.join(", ", hot.subList(0, Math.min(4, hot.size())))));
        }
        md.append('\n');

        List<Goal> goals = new ArrayList<>();
        for (Strategy s : Strategy.values()) {
            Double own = ownOver.get(s);
            String what = "4K conversion, " + s.label() + ": Janus's own work over the floor's kernel operation (JMH p50)";
            if (own == null) goals.add(Goal.notMeasured(what, "no engine (JMH) or no 4K run"));
            else goals.add(Goal.check(what, "≤ +1 µs", (own >= 0 ? "+" : "") + Report.num(own, 2) + " µs", own <= 1.0,
                    hot.isEmpty() ? "no JFR recording in this run" : "JFR, on top of the stack: " + String.join(", ", hot.subList(0, Math.min(4, hot.size())))));
        }
        for (Strategy s : Strategy.values()) {
            ConversionCost.Row r = find(rows, s, "4K", 1);
            String what = "4K conversion, " + s.label() + ", 1 vCPU: Janus over the floor (p50)";
            if (r == null) {
                goals.add(Goal.notMeasured(what, "no such run"));
                continue;
            }
            double over = (r.janus().total().p50() - r.floor().total().p50()) / 1e3;
            double ratio = r.janus().total().p50() / (double) r.floor().total().p50();
            goals.add(Goal.check(what, "≤ +1 µs, ≤ 1.2×", "+" + Report.num(over, 1) + " µs, " + Report.num(ratio, 2) + "×",
                    over <= 1.0 && ratio <= 1.2, bound.getOrDefault(s, "")));
        }
        for (Strategy s : Strategy.values()) {
            ConversionCost.Row k = find(rows, s, "4K", 1), m = find(rows, s, "2M", 1), g = find(rows, s, "1G", 1);
            String what = "2M request vs 512 4K requests, " + s.label();
            if (k == null || m == null) {
                goals.add(Goal.notMeasured(what, "no such run"));
                continue;
            }
            double r2 = m.janus().request().mean() / (512 * k.janus().request().mean());
            String measured = Report.num(r2, 4) + " (request mean " + us((long) m.janus().request().mean()) + " µs vs 512 × "
                    + us((long) k.janus().request().mean()) + " µs)";
            boolean met = r2 <= 0.1;
            if (g != null) {
                double r1 = g.janus().request().mean() / (262_144 * k.janus().request().mean());
                measured += "; 1G vs 262,144 × 4K: " + String.format(java.util.Locale.ROOT, "%.2e", r1);
                met &= r1 <= 0.1;
            }
            goals.add(Goal.check(what, "far less (≤ 0.1)", measured, met, "the request is proportional to the pages it changes: "
                    + "the per-page kernel work of the range (see the table's request column)"));
        }
        double worst = rows.stream().filter(r -> r.strategy().equals(Strategy.IN_PLACE.name()))
                .mapToDouble(r -> r.janus().pagesAllocatedPerConversion()).max().orElse(Double.NaN);
        goals.add(Double.isNaN(worst) ? Goal.notMeasured("in place: pages allocated per conversion", "no in-place run")
                : Goal.check("in place: pages allocated per conversion", "0", Report.num(worst, 2) + " (the most of any in-place run)",
                        worst == 0, "in place allocated pages: a bug"));
        md.append("The **total** of a 2M or 1G conversion is dominated by the touch of its 512 or 262,144 pages, which on the software ")
                .append("KVM goes through the model's guest memory access (a copy through JNA per access, about 10 µs a page here) where the ")
                .append("floor writes its mapping directly: compare the **request** column and the ratios in the goals for what Janus adds.\n\n");
        md.append("Reading it: a 2M or 1G request is one exit and one pass through Janus for 512 or 262,144 pages; its cost is the kernel's ")
                .append("per-page work. Legacy with discard allocates one page per 4 KiB converted (the new face, faulted in by the touch) and ")
                .append("frees one (the punched stale face); without discard it allocates nothing once both faces exist (the memory stays ")
                .append("doubled: see the memory section); in place allocates nothing, ever.\n");
        return new Rendered(md.toString(), goals);
    }

    static ConversionCost.Row find(List<ConversionCost.Row> rows, Strategy s, String unit, int vcpus) {
        return rows.stream().filter(r -> r.strategy().equals(s.name()) && r.unit().equals(unit) && r.vcpus() == vcpus).findFirst().orElse(null);
    }

    private static String label(ConversionCost.Row r) { return Strategy.valueOf(r.strategy()).label(); }

    private static String us(long ns) { return Report.num(ns / 1e3, ns < 100_000 ? 1 : 0); }

    private static String lat(ConversionCost.Latency l) { return us(l.p50()) + " / " + us(l.p99()) + " / " + us(l.max()); }

    private static String rate(double perSecond) { return perSecond >= 100 ? Report.num(perSecond, 0) : Report.num(perSecond, 2); }
}
