package org.janus.benchmarks.sections;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.janus.benchmarks.report.Charts;
import org.janus.benchmarks.report.Goal;
import org.janus.benchmarks.report.Report;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Section;
import org.janus.benchmarks.startup.StartupTime;

/** {@link StartupTime}: {@code janus run} to the first guest exit and {@code janus host-report}, whole processes. */
public final class StartupSection implements Section {
    public static final String FILE = "startup.json";
    /** The variant whose figure is checked against the goal: the distribution as it starts by default. */
    public static final String DEFAULT = "default (CDS + C1)";
    static final double GOAL_MS = 1000;

    @Override public String title() { return "Start-up: `janus run` to the first guest exit, `janus host-report`"; }

    @Override public List<String> inputs() { return List.of(FILE); }

    @Override public List<String> goals() { return List.of("janus run examples/plain.json to the first guest exit (median of 10)", "janus host-report (median of 10)"); }

    @Override public Rendered render(ReportContext c) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("`org.janus.benchmarks.startup.StartupTime`: the distribution `mvn install` builds (`runtime/target/janus`, copied to a ")
                .append("temporary home), whole processes as a user starts them: `bin/janus run examples/plain.json` (the hello guest, 2 ")
                .append("vCPUs) and `bin/janus host-report`, each variant once to write its class-data archive (the first run, shown ")
                .append("apart), then in rounds that take the variants in turn. The first exit is the moment the exit dispatcher ")
                .append("returned its first decision, read from the JVM's class-loading log (`-Xlog:class+load` with wall-clock ")
                .append("time, asynchronous, in every timed `run` of every variant; each round also runs `run` once without it, to show ")
                .append("what the log costs); the milestones of the breakdown are the first classes of each stage ")
                .append("in the same log, in ms from the launch. Variants: **default**, as `bin/janus` starts: a class-data archive ")
                .append("of the classes a run loads, the bundles' included (written by the first run into `cache/cds/`) and C1 only for ")
                .append("commands that end by themselves; **CDS, C2 too** (`JAVA_OPTS=-XX:TieredStopAtLevel=4`); **without**, ")
                .append("`JANUS_FAST_START=off`: as the distribution started before this report (the launcher waits for the run ")
                .append("command with a service listener instead of polling every 50 ms in all three).\n\n");
        JsonElement root = c.json(FILE);
        List<Goal> goals = new ArrayList<>();
        md.append("| variant | run: first exit (median) | run: whole process | run: whole, without the log | host-report | first run (writes the archive) | runs |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|\n");
        List<String> labels = new ArrayList<>();
        Map<String, List<Double>> bars = new LinkedHashMap<>();
        JsonObject checked = null;
        for (JsonElement e : root.getAsJsonArray()) {
            JsonObject v = e.getAsJsonObject();
            String label = v.get("label").getAsString();
            md.append("| ").append(label).append(" | ").append(ms(v, "medianFirstExitMs")).append(" | ").append(ms(v, "medianRunWallMs"))
                    .append(" | ").append(ms(v, "medianUnloggedRunWallMs")).append(" | ").append(ms(v, "medianHostReportMs")).append(" | ").append(ms(v, "firstRunWallMs")).append(" | ")
                    .append(v.getAsJsonArray("runs").size()).append(" |\n");
            labels.add(label);
            bars.computeIfAbsent("run: first exit", k -> new ArrayList<>()).add(v.get("medianFirstExitMs").getAsDouble());
            bars.computeIfAbsent("host-report", k -> new ArrayList<>()).add(v.get("medianHostReportMs").getAsDouble());
            if (label.equals(DEFAULT)) checked = v;
        }
        md.append("\nBreakdown (medians, ms from the launch to the first class of each stage):\n\n| variant | ");
        List<String> stages = new ArrayList<>(StartupTime.MILESTONES.keySet());
        md.append(String.join(" | ", stages)).append(" | process end |\n|---|").append("---:|".repeat(stages.size() + 1)).append('\n');
        for (JsonElement e : root.getAsJsonArray()) {
            JsonObject v = e.getAsJsonObject();
            JsonObject m = v.getAsJsonObject("medianMilestonesMs");
            md.append("| ").append(v.get("label").getAsString());
            for (String s : stages) md.append(" | ").append(m.has(s) && !m.get(s).isJsonNull() ? Report.num(m.get(s).getAsDouble(), 0) : "");
            md.append(" | ").append(ms(v, "medianRunWallMs")).append(" |\n");
        }
        md.append('\n');
        Charts.bars(c.chartFile("startup"), "Start-up, median of the rounds", "ms", labels, bars);
        md.append(c.chartImage("startup", "start-up per variant")).append("\n\n");
        if (checked == null) {
            goals.add(Goal.notMeasured(goals().get(0), "no variant " + DEFAULT));
            goals.add(Goal.notMeasured(goals().get(1), "no variant " + DEFAULT));
        } else {
            double first = checked.get("medianFirstExitMs").getAsDouble();
            JsonObject m = checked.getAsJsonObject("medianMilestonesMs");
            String bound = "by stage (median ms): JVM to the launcher's main " + stage(m, null, "launcher main") + ", picocli and the features "
                    + stage(m, "launcher main", "Felix") + ", Felix (init, install, resolve) " + stage(m, "Felix", "SCR")
                    + ", bundle start and SCR activation to the run command " + stage(m, "SCR", "run command") + ", the VM built and run to its first exit "
                    + stage(m, "run command", "first exit")
                    + "; with the classes mapped from the archive (the bundles' too: the JDK 17 dynamic archive holds the classes "
                    + "Felix's loaders defined), what is left is work: picocli building its model of every command by reflection, "
                    + "Felix installing, resolving and starting 30 bundles, SCR parsing their component descriptions and activating "
                    + "the components, interpreted or C1-compiled code on 2 cores shared with the other engineers' work";
            goals.add(Goal.check(goals().get(0), "≤ 1.0 s", Report.num(first / 1000, 2) + " s", first <= GOAL_MS, bound));
            goals.add(new Goal(goals().get(1), "shown", Report.num(checked.get("medianHostReportMs").getAsDouble() / 1000, 2) + " s",
                    Goal.Status.SHOWN, ""));
        }
        if (c.smoke()) md.append("_Smoke run: one round; the figures mean little._\n\n");
        return new Rendered(md.toString(), goals);
    }

    private static String stage(JsonObject m, String from, String to) {
        double a = from == null ? 0 : m.get(from).getAsDouble();
        return Report.num(m.get(to).getAsDouble() - a, 0);
    }

    private static String ms(JsonObject v, String field) { return Report.num(v.get(field).getAsDouble(), 0) + " ms"; }
}
