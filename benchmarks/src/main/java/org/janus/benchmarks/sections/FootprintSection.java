package org.janus.benchmarks.sections;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.janus.benchmarks.ConversionFootprint;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Section;
import org.janus.benchmarks.report.Charts;
import org.janus.benchmarks.report.Report;

/** {@link ConversionFootprint}: memory after each phase of whole-guest conversions, the three strategies side by side. */
public final class FootprintSection implements Section {
    public static final String FILE = "conversion-footprint.json";

    @Override public String title() { return "Conversion footprint: memory per phase of whole-guest conversions"; }

    @Override public List<String> inputs() { return List.of(FILE); }

    @Override public List<String> goals() { return List.of(); }

    @Override public Rendered render(ReportContext c) throws IOException {
        JsonObject root = c.json(FILE).getAsJsonObject();
        long size = root.get("size").getAsLong();
        JsonArray results = root.getAsJsonArray("results");
        StringBuilder md = new StringBuilder();
        md.append("What converting every page of a ").append(size >> 20).append(" MiB guest to private and back costs in memory, for each ")
                .append("strategy (`org.janus.benchmarks.ConversionFootprint`), directly on the memory backends (no vCPU exit loop). ")
                .append("The software KVM backs guest memory with real memfds: allocated is `st_blocks`, resident is `mincore`. ")
                .append("Phases: the host writes a word into every page while shared; the region goes private in 2 MiB steps; the guest ")
                .append("writes every page; back to shared in 2 MiB steps; the host writes every page again; then private and back as one ")
                .append("call over the whole range, the guest writing every page in between.\n\n");
        StringBuilder head = new StringBuilder("| after |");
        StringBuilder rule = new StringBuilder("|---|");
        for (JsonElement r : results) {
            String label = label(r);
            head.append(' ').append(label).append(": allocated MiB | resident MiB |");
            rule.append("---:|---:|");
        }
        md.append(head).append('\n').append(rule).append('\n');
        List<String> phases = new ArrayList<>();
        Map<String, List<Double>> allocated = new LinkedHashMap<>();
        for (ConversionFootprint.Phase p : ConversionFootprint.Phase.values()) {
            phases.add(p.name().toLowerCase().replace('_', ' '));
            md.append("| ").append(label(p)).append(" |");
            for (JsonElement r : results) {
                JsonObject f = r.getAsJsonObject().getAsJsonObject("figures").getAsJsonObject(p.name());
                double a = f.get("sharedAllocated").getAsLong() + Math.max(0, f.get("privateAllocated").getAsLong());
                double res = f.get("sharedResident").getAsLong() + Math.max(0, f.get("privateResident").getAsLong());
                md.append(' ').append(Report.num(a / (1 << 20), 1)).append(" | ").append(Report.num(res / (1 << 20), 1)).append(" |");
                allocated.computeIfAbsent(label(r), k -> new ArrayList<>()).add(a / (1 << 20));
            }
            md.append('\n');
        }
        md.append('\n');
        Charts.bars(c.chartFile("footprint"), "Allocated memory after each phase, " + (size >> 20) + " MiB guest", "MiB", phases, allocated);
        md.append(c.chartImage("footprint", "allocated memory per phase and strategy")).append("\n\n");
        for (JsonElement r : results)
            md.append("- ").append(label(r)).append(": after the first round trip the host reads ")
                    .append(r.getAsJsonObject().get("contentsAfterRoundTrip").getAsString()).append(" in a page.\n");
        md.append("\nIn place keeps one page per guest page whatever the state; legacy with discard holds one face once a ")
                .append("conversion is done (the new face is allocated when first written, the contents are gone); legacy without ")
                .append("discard keeps both faces as soon as both were written.\n");
        return new Rendered(md.toString(), List.of());
    }

    private static String label(JsonElement r) {
        return ConversionFootprint.Strategy.valueOf(r.getAsJsonObject().get("strategy").getAsString()).label();
    }

    private static String label(ConversionFootprint.Phase p) { return p.label(); }
}
