package org.janus.benchmarks.vcpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;
import org.janus.benchmarks.report.Results;

/**
 * What bounds exit handling with many vCPUs: runs the {@link ExitStorm} of each kind with {@code vcpus} vCPUs
 * repeatedly under a JFR recording (the JDK's {@code profile} settings) and summarises it: the hottest methods (top
 * frames of JFR's Java and native method samples together, a native one marked so), the Janus frames anywhere on
 * the stack (the share of samples each was on), where threads blocked on monitors and parked (by the monitor's or
 * the blocker's class and the frame that waited, with the total time), and how busy the CPUs were (machine total and
 * this JVM). The raw recording is not kept. JFR samples only threads that run Java or native code: a thread handing an
 * exit over spends much of its time in the kernel (futex) or spinning, which the parks and the CPU load show.
 *
 * <p>Usage: {@code ExitProfile --out RESULTS.json [--vcpus N] [--seconds S]} (default 8 vCPUs, 6 s per kind).
 */
public final class ExitProfile {
    /** A name and how much of something it had. */
    public record Entry(String name, double value) {}

    /** The summary of one kind's recording. */
    public record Summary(String kind, int vcpus, long exits, double seconds, double exitsPerSecond, long samples,
                          List<Entry> topFrames, List<Entry> topJanusFrames, List<Entry> monitorBlockedMs,
                          List<Entry> parkedMs, double machineCpu, double jvmCpu, int cpus) {}

    private ExitProfile() {}

    public static void main(String[] args) throws Exception {
        Path out = null;
        int vcpus = 8;
        double seconds = 6;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[i + 1]);
                case "--vcpus" -> vcpus = Integer.parseInt(args[i + 1]);
                case "--seconds" -> seconds = Double.parseDouble(args[i + 1]);
                default -> out = null;
            }
        }
        if (out == null || args.length % 2 != 0 || vcpus < 1 || !(seconds > 0)) {
            System.err.println("usage: ExitProfile --out RESULTS.json [--vcpus N] [--seconds S]");
            System.exit(2);
        }
        List<Summary> summaries = new ArrayList<>();
        for (ExitStorm.Kind kind : ExitStorm.Kind.values()) summaries.add(profile(kind, vcpus, seconds));
        for (Summary s : summaries) print(s);
        Results.write(out, summaries);
    }

    static Summary profile(ExitStorm.Kind kind, int vcpus, double seconds) throws Exception {
        try (ExitStorm storm = new ExitStorm(kind, vcpus, 20_000)) {
            storm.run(storm.create());      // warm up outside the recording
            Path file = Files.createTempFile("janus-exit-profile", ".jfr");
            long exits = 0;
            long t0;
            long ns;
            try (Recording r = new Recording(Configuration.getConfiguration("profile"))) {
                // Every contended monitor and every park, not only the long ones: the handoffs are short.
                r.enable("jdk.JavaMonitorEnter").withThreshold(Duration.ZERO).withStackTrace();
                r.enable("jdk.ThreadPark").withThreshold(Duration.ZERO).withStackTrace();
                r.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(10));
                // Threads in native code (JNA's system calls, the sim's memfd work) are sampled apart: their samples too.
                r.enable("jdk.NativeMethodSample").withPeriod(Duration.ofMillis(10));
                r.enable("jdk.CPULoad").withPeriod(Duration.ofMillis(200));
                r.start();
                t0 = System.nanoTime();
                do {
                    storm.run(storm.create());
                    exits += storm.totalExits();
                } while (System.nanoTime() - t0 < seconds * 1e9);
                ns = System.nanoTime() - t0;
                r.stop();
                r.dump(file);
            }
            try {
                return summarise(kind, vcpus, exits, ns / 1e9, file);
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }

    static Summary summarise(ExitStorm.Kind kind, int vcpus, long exits, double seconds, Path file) throws IOException {
        Map<String, Double> top = new HashMap<>();
        Map<String, Double> janus = new HashMap<>();
        Map<String, Double> monitors = new HashMap<>();
        Map<String, Double> parks = new HashMap<>();
        double machine = 0;
        double jvm = 0;
        int loads = 0;
        long samples = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            switch (e.getEventType().getName()) {
                case "jdk.ExecutionSample", "jdk.NativeMethodSample" -> {
                    RecordedStackTrace st = e.getStackTrace();
                    if (st == null || st.getFrames().isEmpty()) continue;
                    samples++;
                    String prefix = e.getEventType().getName().equals("jdk.NativeMethodSample") ? "native " : "";
                    top.merge(prefix + frame(st.getFrames().get(0)), 1.0, Double::sum);
                    // Each Janus method once per sample: the share of samples it was on the stack in.
                    java.util.Set<String> seen = new java.util.HashSet<>();
                    for (RecordedFrame f : st.getFrames()) {
                        String m = frame(f);
                        // Janus's own code: not this benchmark's guest, nor the lambdas' generated frames.
                        if (m.startsWith("org.janus.") && !m.startsWith("org.janus.benchmarks.") && !m.contains("$$Lambda") && seen.add(m))
                            janus.merge(m, 1.0, Double::sum);
                    }
                }
                case "jdk.JavaMonitorEnter" -> monitors.merge(className(e, "monitorClass") + " at " + waiter(e),
                        e.getDuration().toNanos() / 1e6, Double::sum);
                case "jdk.ThreadPark" -> parks.merge(className(e, "parkedClass") + " at " + waiter(e),
                        e.getDuration().toNanos() / 1e6, Double::sum);
                case "jdk.CPULoad" -> {
                    machine += e.getFloat("machineTotal");
                    jvm += e.getFloat("jvmUser") + e.getFloat("jvmSystem");
                    loads++;
                }
                default -> { }
            }
        }
        final long n = Math.max(1, samples);
        return new Summary(kind.name(), vcpus, exits, seconds, exits / seconds, samples,
                topOf(top, 12, 100.0 / n), topOf(janus, 12, 100.0 / n), topOf(monitors, 8, 1), topOf(parks, 8, 1),
                loads == 0 ? Double.NaN : machine / loads, loads == 0 ? Double.NaN : jvm / loads,
                Runtime.getRuntime().availableProcessors());
    }

    private static String className(RecordedEvent e, String field) {
        Object c = e.getValue(field);
        return c instanceof jdk.jfr.consumer.RecordedClass rc ? rc.getName() : "(none)";
    }

    /** The first frame of the waiting stack outside java.* and jdk.*: the code that waited. */
    private static String waiter(RecordedEvent e) {
        RecordedStackTrace st = e.getStackTrace();
        if (st == null) return "?";
        for (RecordedFrame f : st.getFrames()) {
            String m = frame(f);
            if (!m.startsWith("java.") && !m.startsWith("jdk.") && !m.startsWith("sun.")) return m;
        }
        return st.getFrames().isEmpty() ? "?" : frame(st.getFrames().get(0));
    }

    private static String frame(RecordedFrame f) {
        return f.getMethod().getType().getName() + "." + f.getMethod().getName();
    }

    private static List<Entry> topOf(Map<String, Double> m, int k, double scale) {
        return m.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue(Comparator.reverseOrder())).limit(k)
                .map(e -> new Entry(e.getKey(), e.getValue() * scale)).toList();
    }

    private static void print(Summary s) {
        System.out.printf(Locale.ROOT, "%s, %d vCPUs: %d exits in %.1f s = %.0f exits/s; CPU machine %.0f%%, JVM %.0f%% of %d cores; %d samples%n",
                s.kind(), s.vcpus(), s.exits(), s.seconds(), s.exitsPerSecond(), 100 * s.machineCpu(), 100 * s.jvmCpu(), s.cpus(), s.samples());
        Map<String, List<Entry>> parts = new LinkedHashMap<>();
        parts.put("top frames (% of samples)", s.topFrames());
        parts.put("Janus frames on the stack (% of samples)", s.topJanusFrames());
        parts.put("monitor blocked (ms)", s.monitorBlockedMs());
        parts.put("parked (ms)", s.parkedMs());
        parts.forEach((title, entries) -> {
            System.out.println("  " + title);
            for (Entry e : entries) System.out.printf(Locale.ROOT, "    %8.1f  %s%n", e.value(), e.name());
        });
    }
}
