package org.janus.benchmarks.sections;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.janus.benchmarks.report.Charts;
import org.janus.benchmarks.report.Goal;
import org.janus.benchmarks.report.Jmh;
import org.janus.benchmarks.report.Report;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Section;

/** {@link org.janus.benchmarks.vcpu.ExitScaling} and {@link org.janus.benchmarks.vcpu.ExitProfile}. */
public final class ExitScalingSection implements Section {
    public static final String JMH = "jmh-exit-scaling.json";
    public static final String PROFILE = "exit-profile.json";

    @Override public String title() { return "Scale: exit handling with 1, 2, 4 and 8 vCPUs"; }

    @Override public List<String> inputs() { return List.of(JMH, PROFILE); }

    @Override public List<String> goals() { return List.of("exit handling: where it stops scaling (I/O exits)", "exit handling: where it stops scaling (conversions)"); }

    @Override public Rendered render(ReportContext c) throws IOException {
        StringBuilder md = new StringBuilder();
        int cores = Runtime.getRuntime().availableProcessors();
        md.append("`org.janus.benchmarks.vcpu.ExitScaling` (JMH, single shot: each invocation one VM run to its end). A VM on the ")
                .append("software KVM built by the machine's VM manager (sw-protected, in place), whose every vCPU makes 20,000 exits as ")
                .append("fast as it can and halts: **io**, an OUT to port 0x80; **conversion**, `MAP_GPA_RANGE` of its own 4 KiB page, ")
                .append("to private and back. Every exit goes through the vCPU thread, `KVM_RUN` of the software KVM (whose guest ")
                .append("program runs on a thread of its own and hands each exit over), the exit dispatcher and, for conversions, the ")
                .append("conversion engine and the guest_memfd backend. Exits/s = vCPUs × 20,001 / the run's time (the median of the ")
                .append("measured runs).\n\n");
        Map<String, TreeMap<Integer, Double>> rate = new LinkedHashMap<>();
        for (Jmh.Row r : Jmh.read(c, JMH)) {
            int vcpus = Integer.parseInt(r.params().get("vcpus"));
            int per = Integer.parseInt(r.params().getOrDefault("exitsPerVcpu", "20000"));
            // The median run: a single shot on a shared 2-core machine now and then meets another process.
            double t = Double.isNaN(r.percentile("50.0")) ? r.score() : r.percentile("50.0");
            double ms = r.unit().startsWith("ms") ? t : r.unit().startsWith("s") ? t * 1e3 : t / 1e3;
            rate.computeIfAbsent(r.params().get("kind").toLowerCase(), k -> new TreeMap<>()).put(vcpus, vcpus * (per + 1.0) / (ms / 1e3));
        }
        md.append("| exits | vCPUs | exits/s | × 1 vCPU | per vCPU |\n|---|---:|---:|---:|---:|\n");
        List<Goal> goals = new ArrayList<>();
        List<String> cats = new ArrayList<>();
        Map<String, List<Double>> series = new LinkedHashMap<>();
        Map<String, Integer> stops = new LinkedHashMap<>();
        for (Map.Entry<String, TreeMap<Integer, Double>> e : rate.entrySet()) {
            double one = e.getValue().firstEntry().getValue();
            int best = e.getValue().firstKey();
            double bestRate = 0;
            for (Map.Entry<Integer, Double> v : e.getValue().entrySet()) {
                md.append("| ").append(e.getKey()).append(" | ").append(v.getKey()).append(" | ").append(Report.num(v.getValue(), 0))
                        .append(" | ").append(Report.num(v.getValue() / one, 2)).append("× | ").append(Report.num(v.getValue() / v.getKey(), 0)).append(" |\n");
                if (!cats.contains(v.getKey() + " vCPUs")) cats.add(v.getKey() + " vCPUs");
                series.computeIfAbsent(e.getKey() + " exits/s", k -> new ArrayList<>()).add(v.getValue());
                // Where it stops scaling: the fewest vCPUs beyond which more add less than 10 %.
                if (v.getValue() > bestRate * 1.10) {
                    best = v.getKey();
                    bestRate = Math.max(bestRate, v.getValue());
                }
            }
            stops.put(e.getKey(), best);
            goals.add(new Goal("exit handling: where it stops scaling (" + (e.getKey().equals("io") ? "I/O exits" : "conversions") + ")",
                    "shown", "stops at " + best + " vCPUs (" + Report.num(bestRate / one, 2) + "× 1 vCPU), " + cores + " cores",
                    Goal.Status.SHOWN, ""));
        }
        md.append('\n');
        Charts.bars(c.chartFile("exit-scaling"), "Exit handling throughput", "exits/s", cats, series);
        md.append(c.chartImage("exit-scaling", "exits per second by vCPU count")).append("\n\n");
        md.append("**Where it stops and why.** The machine has ").append(cores).append(" cores. A vCPU of the software KVM is two ")
                .append("threads that take turns (the vCPU thread in `KVM_RUN`, the guest program's thread between exits) and hand each ")
                .append("exit over (`SynchronousQueue`). With one vCPU the other thread is parked at each hand-over and has to be woken, ")
                .append("so one vCPU's exits are bounded by that wake-up, not by CPU time; with more vCPUs the threads keep both cores ")
                .append("busy and the throughput levels off where the cores are full (more vCPUs add less than 10 % beyond ")
                .append(stops.entrySet().stream().map(x -> x.getValue() + " vCPUs for " + (x.getKey().equals("io") ? "I/O exits" : "conversions"))
                        .collect(java.util.stream.Collectors.joining(" and "))).append(" here). ")
                .append("`org.janus.benchmarks.vcpu.ExitProfile` ran the same VMs with 8 vCPUs under JFR (the JDK's `profile` settings, ")
                .append("every contended monitor and every park recorded); its summary:\n\n");
        for (JsonElement e : c.json(PROFILE).getAsJsonArray()) {
            JsonObject s = e.getAsJsonObject();
            md.append("- **").append(s.get("kind").getAsString().toLowerCase()).append(", ").append(s.get("vcpus").getAsInt()).append(" vCPUs**: ")
                    .append(Report.num(s.get("exitsPerSecond").getAsDouble(), 0)).append(" exits/s under the recording; CPU ")
                    .append(pct(s, "machineCpu")).append(" of the machine busy, ").append(pct(s, "jvmCpu")).append(" by this JVM (")
                    .append(s.get("cpus").getAsInt()).append(" cores); ").append(s.get("samples").getAsLong()).append(" samples (Java and native).\n");
            list(md, "hottest methods (top frame, % of samples)", s, "topFrames", "%", 8);
            list(md, "Janus methods on the stack (% of samples)", s, "topJanusFrames", "%", 8);
            list(md, "blocked on monitors (total ms, by monitor class and waiting frame)", s, "monitorBlockedMs", " ms", 5);
            list(md, "parked (total ms, by blocker class and waiting frame)", s, "parkedMs", " ms", 5);
            var monitors = s.getAsJsonArray("monitorBlockedMs");
            if (!monitors.isEmpty()) {
                JsonObject m = monitors.get(0).getAsJsonObject();
                double blocked = m.get("value").getAsDouble();
                double wall = s.get("seconds").getAsDouble() * 1e3;
                if (m.get("name").getAsString().contains("VmConversions") && blocked > wall / 4)
                    md.append("  - so: the conversions of one VM take turns on its conversion lock (`VmConversions`): the vCPU ")
                            .append("threads spent ").append(Report.num(blocked / wall, 1)).append(" thread-seconds per second blocked on it; ")
                            .append("beyond that lock, more vCPUs add only waiting.\n");
            }
            double handover = 0;
            for (JsonElement f : s.getAsJsonArray("topFrames")) {
                String n = f.getAsJsonObject().get("name").getAsString();
                if (n.contains("SynchronousQueue")) handover += f.getAsJsonObject().get("value").getAsDouble();
            }
            if (handover > 10)
                md.append("  - so: ").append(Report.num(handover, 0)).append(" % of the samples are the hand-over between a vCPU thread ")
                        .append("and its guest program's thread (`SynchronousQueue`), the software KVM's stand-in for entering the guest.\n");
        }
        md.append('\n');
        if (c.smoke()) md.append("_Smoke run: few exits and iterations; the figures mean little._\n\n");
        return new Rendered(md.toString(), goals);
    }

    private static String pct(JsonObject s, String field) {
        double v = s.get(field).isJsonNull() ? Double.NaN : s.get(field).getAsDouble();
        return Double.isNaN(v) ? "?" : Report.num(100 * v, 0) + " %";
    }

    private static void list(StringBuilder md, String title, JsonObject s, String field, String unit, int n) {
        md.append("  - ").append(title).append(": ");
        List<String> items = new ArrayList<>();
        for (JsonElement e : s.getAsJsonArray(field)) {
            if (items.size() >= n) break;
            JsonObject o = e.getAsJsonObject();
            items.add("`" + Report.cell(o.get("name").getAsString()) + "` " + Report.num(o.get("value").getAsDouble(), 1) + unit);
        }
        md.append(items.isEmpty() ? "none" : String.join(", ", items)).append('\n');
    }
}
