package org.janus.benchmarks.report;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the JSON JMH writes ({@code -rf json}): one row per benchmark method and parameter set. */
public final class Jmh {
    /**
     * @param benchmark the method, e.g. {@code org.janus.benchmarks.jmh.EngineConversionBenchmark.convert4K}
     * @param params the {@code @Param} values
     * @param score the primary metric (mean for SampleTime and AverageTime, ops per unit for Throughput)
     * @param unit its unit, e.g. {@code us/op}
     * @param percentiles by percentile ("50.0", "99.0", "100.0", ...); SampleTime only
     * @param secondary secondary metrics (profilers' figures: {@code ·gc.alloc.rate.norm}, ...) by name, their score
     */
    public record Row(String benchmark, Map<String, String> params, double score, String unit, Map<String, Double> percentiles,
                      Map<String, Double> secondary) {
        public String method() { return benchmark.substring(benchmark.lastIndexOf('.') + 1); }

        public double percentile(String p) { return percentiles.getOrDefault(p, Double.NaN); }
    }

    private Jmh() {}

    public static List<Row> read(ReportContext c, String file) throws IOException {
        List<Row> rows = new ArrayList<>();
        for (JsonElement e : c.json(file).getAsJsonArray()) {
            JsonObject o = e.getAsJsonObject();
            Map<String, String> params = new LinkedHashMap<>();
            if (o.has("params")) o.getAsJsonObject("params").entrySet().forEach(p -> params.put(p.getKey(), p.getValue().getAsString()));
            JsonObject m = o.getAsJsonObject("primaryMetric");
            Map<String, Double> pct = new LinkedHashMap<>();
            if (m.has("scorePercentiles")) m.getAsJsonObject("scorePercentiles").entrySet().forEach(p -> pct.put(p.getKey(), p.getValue().getAsDouble()));
            Map<String, Double> secondary = new LinkedHashMap<>();
            if (o.has("secondaryMetrics"))
                o.getAsJsonObject("secondaryMetrics").entrySet().forEach(s -> secondary.put(s.getKey(), s.getValue().getAsJsonObject().get("score").getAsDouble()));
            rows.add(new Row(o.get("benchmark").getAsString(), params, m.get("score").getAsDouble(), m.get("scoreUnit").getAsString(), pct, secondary));
        }
        return rows;
    }
}
