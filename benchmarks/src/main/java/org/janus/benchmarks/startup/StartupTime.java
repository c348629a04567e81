package org.janus.benchmarks.startup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.janus.benchmarks.report.Results;

/**
 * Start-up of the real distribution, whole processes: {@code bin/janus run examples/plain.json} to the first guest
 * exit and to its end, and {@code bin/janus host-report}, each {@code runs} times, for several variants side by side
 * (the rounds interleave the variants, so that the machine's noise falls on all of them alike). A variant is a
 * distribution home plus environment: the start-up options {@code bin/janus} applies (class-data sharing, C1 only)
 * are switched off with {@code JANUS_FAST_START=off}, which is how the "before" is measured from the same build.
 *
 * <p>The first exit is timed from the JVM's own class-loading log ({@code -Xlog:class+load} with wall-clock time):
 * the first {@code ExitDecision} class is loaded when the exit dispatcher returns its first decision, that is when
 * the first exit has been handled. The same log gives the breakdown: JVM start (to the launcher's main class),
 * picocli (to Felix), Felix (to SCR's activator: framework init, bundles installed and resolved), bundle start and
 * SCR activation (to the run command's class), the VM built (to the vCPU runner), the first exit, the VM's end (its
 * summary), and the exit of the process. Every such run carries the log, in every variant; each round also runs
 * {@code janus run} once without it, whose whole-process time shows what the log costs.
 *
 * <p>Before the timed rounds each variant runs once with its class-data archive removed: that first run, which
 * creates the archive, is reported on its own.
 *
 * <p>Each variant's home is copied into a temporary directory first, so that the runs neither write into the build's
 * distribution nor meet another Janus on the same home.
 *
 * <p>Usage: {@code StartupTime --out RESULTS.json --runs N --variant LABEL=HOME[,VAR=VALUE...]...}
 */
public final class StartupTime {
    /** Milestones of a run, by the first class loaded that marks each (uptime order). */
    public static final Map<String, String> MILESTONES = milestones();

    private static Map<String, String> milestones() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("launcher main", "org.janus.runtime.Cli ");
        m.put("Felix", "org.apache.felix.framework.Felix ");
        m.put("SCR", "org.apache.felix.scr.impl.Activator ");
        m.put("run command", "org.janus.machine.internal.RunCommand ");
        m.put("VM build", "org.janus.machine.internal.MachineAssembler ");
        m.put("vCPUs", "org.janus.machine.internal.VcpuRunner ");
        m.put("first exit", "org.janus.machine.internal.ExitDecision$");
        m.put("VM ended", "org.janus.machine.internal.SummaryText ");
        return m;
    }

    /** A distribution and the environment it runs with. */
    public record Variant(String label, Path home, Map<String, String> env) {}

    /** One {@code janus run}: wall time, and milliseconds from launch to each milestone (absent when not seen). */
    public record Run(double wallMs, Map<String, Double> milestonesMs) {}

    /** One variant's figures. */
    public record Figures(String label, String home, Map<String, String> env, double firstRunWallMs,
                          double firstRunFirstExitMs, List<Run> runs, List<Double> unloggedRunMs, List<Double> hostReportMs,
                          double medianRunWallMs, double medianUnloggedRunWallMs, double medianFirstExitMs,
                          double medianHostReportMs, Map<String, Double> medianMilestonesMs) {}

    private StartupTime() {}

    public static void main(String[] args) throws Exception {
        Path out = null;
        int runs = 10;
        List<String> specs = new ArrayList<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[i + 1]);
                case "--runs" -> runs = Integer.parseInt(args[i + 1]);
                case "--variant" -> specs.add(args[i + 1]);
                default -> out = null;
            }
        }
        if (out == null || args.length % 2 != 0 || runs < 1 || specs.isEmpty()) {
            System.err.println("usage: StartupTime --out RESULTS.json --runs N --variant LABEL=HOME[,VAR=VALUE...]...");
            System.exit(2);
        }
        Path copies = Files.createTempDirectory("janus-startup-homes");
        try {
            List<Variant> variants = new ArrayList<>();
            Map<Path, Path> copied = new LinkedHashMap<>();
            for (String spec : specs) {
                Variant v = parse(spec);
                Path copy = copied.computeIfAbsent(v.home(), h -> copies.resolve("home-" + copied.size()));
                if (!Files.exists(copy)) copyHome(v.home(), copy);
                variants.add(new Variant(v.label(), copy, v.env()));
            }
            Results.write(out, measure(variants, runs));
        } finally {
            deleteTree(copies);
        }
    }

    /** cp -a, without the source's cache/ (framework storage, class-data archives, the home's lock). */
    private static void copyHome(Path from, Path to) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("cp", "-a", from.toString(), to.toString()).inheritIO().start();
        if (p.waitFor() != 0) throw new IOException("cp -a " + from + " " + to + " failed");
        deleteTree(to.resolve("cache"));
    }

    static Variant parse(String arg) {
        int eq = arg.indexOf('=');
        if (eq <= 0) throw new IllegalArgumentException("variant " + arg + ": expected LABEL=HOME[,VAR=VALUE...]");
        String[] parts = arg.substring(eq + 1).split(",");
        Path home = Path.of(parts[0]).toAbsolutePath().normalize();
        if (!Files.isExecutable(home.resolve("bin/janus"))) throw new IllegalArgumentException("variant " + arg + ": " + home + "/bin/janus is not there");
        Map<String, String> env = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            int e = parts[i].indexOf('=');
            if (e <= 0) throw new IllegalArgumentException("variant " + arg + ": " + parts[i] + " is not VAR=VALUE");
            env.put(parts[i].substring(0, e), parts[i].substring(e + 1));
        }
        return new Variant(arg.substring(0, eq), home, env);
    }

    public static List<Figures> measure(List<Variant> variants, int runs) throws Exception {
        Path logs = Files.createTempDirectory("janus-startup");
        try {
            Map<Variant, Run> first = new LinkedHashMap<>();
            for (Variant v : variants) {
                deleteTree(v.home().resolve("cache/cds"));
                first.put(v, run(v, logs));
            }
            Map<Variant, List<Run>> all = new LinkedHashMap<>();
            Map<Variant, List<Double>> reports = new LinkedHashMap<>();
            Map<Variant, List<Double>> unlogged = new LinkedHashMap<>();
            for (int r = 0; r < runs; r++) {
                for (Variant v : variants) {
                    all.computeIfAbsent(v, k -> new ArrayList<>()).add(run(v, logs));
                    unlogged.computeIfAbsent(v, k -> new ArrayList<>()).add(plainRun(v));
                    reports.computeIfAbsent(v, k -> new ArrayList<>()).add(hostReport(v));
                }
                System.out.printf(Locale.ROOT, "round %d of %d done%n", r + 1, runs);
            }
            List<Figures> out = new ArrayList<>();
            for (Variant v : variants) {
                List<Run> rs = all.get(v);
                Map<String, Double> med = new LinkedHashMap<>();
                for (String m : MILESTONES.keySet()) med.put(m, median(rs.stream().map(x -> x.milestonesMs().getOrDefault(m, Double.NaN)).toList()));
                Figures f = new Figures(v.label(), v.home().toString(), v.env(), first.get(v).wallMs(),
                        first.get(v).milestonesMs().getOrDefault("first exit", Double.NaN), rs, unlogged.get(v), reports.get(v),
                        median(rs.stream().map(Run::wallMs).toList()), median(unlogged.get(v)), med.get("first exit"),
                        median(reports.get(v)), med);
                out.add(f);
                System.out.printf(Locale.ROOT, "%-28s run: first exit %6.0f ms, whole %6.0f ms (without the log %6.0f ms); host-report %6.0f ms; first run %6.0f ms; %s%n",
                        f.label(), f.medianFirstExitMs(), f.medianRunWallMs(), f.medianUnloggedRunWallMs(), f.medianHostReportMs(),
                        f.firstRunWallMs(), med);
            }
            return out;
        } finally {
            deleteTree(logs);
        }
    }

    private static Run run(Variant v, Path logs) throws Exception {
        Path log = logs.resolve("class-load-" + System.nanoTime() + ".log");
        // Asynchronous: the JVM's threads hand the lines to a logging thread instead of writing the file themselves.
        String opts = (v.env().getOrDefault("JAVA_OPTS", "") + " -Xlog:async -Xlog:class+load:file=" + log + ":time").strip();
        long t0 = System.currentTimeMillis();
        long n0 = System.nanoTime();
        int rc = launch(v, opts, "run", v.home().resolve("examples/plain.json").toString());
        double wall = (System.nanoTime() - n0) / 1e6;
        if (rc != 0) throw new IllegalStateException(v.label() + ": janus run exited with " + rc);
        Map<String, Double> ms = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(log);
        for (Map.Entry<String, String> m : MILESTONES.entrySet()) {
            for (String line : lines) {
                if (line.contains("] " + m.getValue())) {
                    ms.put(m.getKey(), (double) (wallClock(line) - t0));
                    break;
                }
            }
        }
        Files.deleteIfExists(log);
        if (!ms.containsKey("first exit")) throw new IllegalStateException(v.label() + ": no first exit in the class-loading log");
        return new Run(wall, ms);
    }

    /** A {@code janus run} without the class-loading log: what the log costs the whole process. */
    private static double plainRun(Variant v) throws Exception {
        long n0 = System.nanoTime();
        int rc = launch(v, v.env().getOrDefault("JAVA_OPTS", ""), "run", v.home().resolve("examples/plain.json").toString());
        if (rc != 0) throw new IllegalStateException(v.label() + ": janus run exited with " + rc);
        return (System.nanoTime() - n0) / 1e6;
    }

    private static double hostReport(Variant v) throws Exception {
        long n0 = System.nanoTime();
        int rc = launch(v, v.env().getOrDefault("JAVA_OPTS", ""), "host-report");
        if (rc != 0) throw new IllegalStateException(v.label() + ": janus host-report exited with " + rc);
        return (System.nanoTime() - n0) / 1e6;
    }

    private static int launch(Variant v, String javaOpts, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(v.home().resolve("bin/janus").toString());
        command.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(v.home().toFile());
        pb.environment().putAll(v.env());
        pb.environment().put("JAVA_OPTS", javaOpts);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(v.label() + ": janus " + String.join(" ", args) + " still running after 120 s");
        }
        return p.exitValue();
    }

    /** Epoch milliseconds of a log line decorated with {@code time}: {@code [2026-12-02T10:40:01.123+0000] ...}. */
    static long wallClock(String line) {
        String stamp = line.substring(1, line.indexOf(']'));
        return OffsetDateTime.parse(stamp, DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSZ")).toInstant().toEpochMilli();
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (a.length == 0) return Double.NaN;
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
