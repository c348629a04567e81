package org.janus.benchmarks.sections;

import java.io.IOException;
import java.util.List;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.janus.benchmarks.report.Jmh;
import org.janus.benchmarks.report.Report;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Section;

/** {@link org.janus.benchmarks.jmh.EngineConversionBenchmark}: Janus's in-process work per 4K conversion (JMH). */
public final class EngineSection implements Section {
    public static final String FILE = "jmh-engine.json";

    @Override public String title() { return "Janus's own work per 4K conversion (JMH, no exit loop)"; }

    @Override public List<String> inputs() { return List.of(FILE); }

    @Override public List<String> goals() { return List.of(); }

    @Override public Rendered render(ReportContext c) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("`org.janus.benchmarks.jmh.EngineConversionBenchmark`: the machine's conversion engine and the memory backend ")
                .append("converting one 4 KiB page of a populated 64 MiB region on the software KVM, each call flipping the next page ")
                .append("(JMH, sample mode: every call timed). It includes the sim's ioctls and the kernel work the backend asks for ")
                .append("(the `mprotect` in place, the hole punch of legacy with discard), not the exit to userspace nor the guest's touch ")
                .append("of the page. Legacy without discard is close to the pure bookkeeping cost.\n\n");
        md.append("| strategy | mean µs | p50 µs | p99 µs | max µs |\n|---|---:|---:|---:|---:|\n");
        for (Jmh.Row r : Jmh.read(c, FILE)) {
            md.append("| ").append(Strategy.valueOf(r.params().get("strategy")).label()).append(" | ").append(Report.num(r.score(), 2))
                    .append(" | ").append(Report.num(r.percentile("50.0"), 2)).append(" | ").append(Report.num(r.percentile("99.0"), 2))
                    .append(" | ").append(Report.num(r.percentile("100.0"), 1)).append(" |\n");
        }
        return new Rendered(md.toString(), List.of());
    }
}
