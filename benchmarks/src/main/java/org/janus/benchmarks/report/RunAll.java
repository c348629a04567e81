package org.janus.benchmarks.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs every {@link Registry#STEPS step} (or those named with {@code --only a,b}), one after the other, each in a
 * process of its own holding the shared build lock ({@code flock}) while it runs, and records each one's outcome in
 * {@code steps.json} under the results directory. A failing step does not stop the others; the exit status is 1
 * when any failed.
 *
 * <p>Usage: {@code RunAll --results DIR --repo DIR [--smoke] [--lock FILE|none] [--only a,b]}
 */
public final class RunAll {
    /** A step's outcome, as the report shows it. */
    public record Outcome(String name, int exitCode, double seconds, String command) {}

    private RunAll() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        Map<String, String> o = options(args, Set.of("--results", "--repo", "--lock", "--only"), Set.of("--smoke"));
        Path results = Path.of(o.getOrDefault("--results", "benchmarks/target/results")).toAbsolutePath();
        Path repo = Path.of(o.getOrDefault("--repo", ".")).toAbsolutePath();
        boolean smoke = o.containsKey("--smoke");
        String lock = o.getOrDefault("--lock", "/tmp/janus-build.lock");
        Set<String> only = o.containsKey("--only") ? Set.of(o.get("--only").split(",")) : null;
        if (only != null) {
            Set<String> known = new java.util.HashSet<>();
            Registry.STEPS.forEach(s -> known.add(s.name()));
            for (String n : only) if (!known.contains(n)) die("--only: no step named " + n + " (steps: " + known + ")");
        }
        Files.createDirectories(results);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("java.class.path");
        List<Outcome> outcomes = new ArrayList<>();
        boolean failed = false;
        for (Step step : Registry.STEPS) {
            if (only != null && !only.contains(step.name())) continue;
            List<String> command = new ArrayList<>();
            if (!lock.equals("none")) command.addAll(List.of("flock", lock));
            command.addAll(step.command(smoke, results.toString(), java, cp, repo.toString()));
            System.out.println("benchmarks: " + step.name() + (smoke ? " (smoke)" : ""));
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(command).directory(repo.toFile()).inheritIO().start();
            int code;
            if (p.waitFor(step.timeoutMinutes(), TimeUnit.MINUTES)) {
                code = p.exitValue();
            } else {
                p.descendants().forEach(ProcessHandle::destroy);
                p.destroy();
                p.waitFor(30, TimeUnit.SECONDS);
                code = 124;
                System.out.println("benchmarks: " + step.name() + " took longer than " + step.timeoutMinutes() + " min: ended");
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("benchmarks: %s %s in %.1f s%n", step.name(), code == 0 ? "done" : "FAILED (exit " + code + ")", seconds);
            outcomes.add(new Outcome(step.name(), code, seconds, String.join(" ", command.subList(command.size() - Math.min(3, command.size()), command.size()))));
            failed |= code != 0;
        }
        // Steps run earlier (another --only) keep their outcome; this run's replace theirs.
        Map<String, Outcome> all = new LinkedHashMap<>();
        Path stepsFile = results.resolve("steps.json");
        if (Files.exists(stepsFile))
            for (Outcome old : Results.GSON.fromJson(Files.readString(stepsFile), Outcome[].class)) all.put(old.name(), old);
        for (Outcome n : outcomes) all.put(n.name(), n);
        Results.write(stepsFile, new ArrayList<>(all.values()));
        System.exit(failed ? 1 : 0);
    }

    static Map<String, String> options(String[] args, Set<String> valued, Set<String> flags) {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (flags.contains(args[i])) o.put(args[i], "");
            else if (valued.contains(args[i]) && i + 1 < args.length) o.put(args[i], args[++i]);
            else die("unknown or incomplete option " + args[i] + " (options: " + valued + " with a value, " + flags + "; got "
                    + Arrays.toString(args) + ")");
        }
        return o;
    }

    static void die(String message) {
        System.err.println(message);
        System.exit(2);
    }
}
