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
        List<String> hot = hotFrames(c, 10);
        if (!hot.isEmpty())
            md.append("\nJFR execution samples (`engine.jfr` in the results: each fork records into it, so it holds the last one, legacy ")
                    .append("without discard, where nothing but Janus's bookkeeping and the sim's ioctl model runs), the methods most often on top ")
                    .append("of the stack under `convert4K`: ").append(String.join(", ", hot)).append(".\n");
        return new Rendered(md.toString(), List.of());
    }

    /**
     * The methods most often on top of the stack in JFR execution samples taken under {@code convert4K}, with their
     * share, from the recording the engine step left ({@code engine.jfr}); empty without one.
     */
    static List<String> hotFrames(ReportContext c, int n) throws IOException {
        java.util.Map<String, Integer> self = new java.util.HashMap<>();
        int total = 0;
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(c.results())) {
            for (java.nio.file.Path f : files.filter(p -> p.getFileName().toString().equals("engine.jfr")).sorted().toList()) {
                for (jdk.jfr.consumer.RecordedEvent e : jdk.jfr.consumer.RecordingFile.readAllEvents(f)) {
                    if (!e.getEventType().getName().equals("jdk.ExecutionSample") || e.getStackTrace() == null) continue;
                    List<jdk.jfr.consumer.RecordedFrame> frames = e.getStackTrace().getFrames();
                    if (frames.isEmpty() || frames.stream().noneMatch(fr -> fr.getMethod().getName().equals("convert4K"))) continue;
                    jdk.jfr.consumer.RecordedMethod m = frames.get(0).getMethod();
                    String name = m.getType().getName();
                    self.merge(name.substring(name.lastIndexOf('.') + 1) + "." + m.getName(), 1, Integer::sum);
                    total++;
                }
            }
        }
        int all = total;
        return self.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(n)
                .map(e -> "`" + e.getKey() + "` " + Math.round(100.0 * e.getValue() / all) + "%").toList();
    }
}
