package org.janus.benchmarks.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The machine a report ran on, read from /proc and the JVM, and the commit it measured. */
public record Machine(Map<String, String> facts) {
    public static Machine describe(Path repository) {
        Map<String, String> f = new LinkedHashMap<>();
        List<String> cpuinfo = lines(Path.of("/proc/cpuinfo"));
        f.put("CPU", cpuinfo.stream().filter(l -> l.startsWith("model name")).map(l -> l.substring(l.indexOf(':') + 1).trim())
                .findFirst().orElse("unknown"));
        long logical = cpuinfo.stream().filter(l -> l.startsWith("processor")).count();
        f.put("cores", logical + " logical (" + Runtime.getRuntime().availableProcessors() + " available to the JVM)");
        f.put("RAM", lines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
                .map(l -> String.format(Locale.ROOT, "%.1f GiB", Long.parseLong(l.replaceAll("\\D", "")) / 1048576.0)).findFirst().orElse("unknown"));
        f.put("kernel", first(Path.of("/proc/sys/kernel/osrelease")));
        f.put("OS", lines(Path.of("/etc/os-release")).stream().filter(l -> l.startsWith("PRETTY_NAME="))
                .map(l -> l.substring(12).replace("\"", "")).findFirst().orElse("unknown"));
        f.put("JDK", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + " ("
                + System.getProperty("java.vm.vendor") + ")");
        f.put("commit", commit(repository));
        return new Machine(f);
    }

    private static String commit(Path repository) {
        String head = run(repository, "git", "rev-parse", "--short=12", "HEAD");
        if (head.isEmpty()) return "unknown (not a git checkout)";
        String subject = run(repository, "git", "log", "-1", "--format=%cd", "--date=format:%Y-%m-%d %H:%M");
        String dirty = run(repository, "git", "status", "--porcelain", "--untracked-files=no", "--", "benchmarks", "bundles", "tools");
        return head + " (" + subject + ")" + (dirty.isEmpty() ? "" : ", with uncommitted changes in benchmarks/, bundles/ or tools/");
    }

    private static String run(Path dir, String... command) {
        try {
            Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            return p.waitFor() == 0 ? out : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String first(Path p) {
        List<String> l = lines(p);
        return l.isEmpty() ? "unknown" : l.get(0).trim();
    }
}
