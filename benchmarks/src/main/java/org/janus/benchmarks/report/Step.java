package org.janus.benchmarks.report;

import java.util.ArrayList;
import java.util.List;

/**
 * One benchmark run of the report: a command line for the full run and one for the smoke run, each writing its
 * results under the results directory. Placeholders in the arguments: {@code {results}} (the results directory),
 * {@code {java}} (this JVM's launcher), {@code {cp}} (the benchmarks' class path), {@code {repo}} (the checkout),
 * {@code {ovmf}} (Debian's OVMF.fd: the installed one, else the one tools/fetch-ovmf.sh put under .cache/).
 *
 * @param name the step's name, as the report's run table and {@code --only} name it
 * @param full the command of the full run
 * @param smoke the command of the smoke run (tiny sizes and iterations: it shows that the benchmark runs)
 * @param timeoutMinutes how long the step may take before it is ended as failed
 */
public record Step(String name, List<String> full, List<String> smoke, int timeoutMinutes) {
    public Step {
        full = List.copyOf(full);
        smoke = List.copyOf(smoke);
    }

    /** A whole-process benchmark: {@code main} run in a JVM of its own with {@code jvm} options. */
    public static Step main(String name, Class<?> main, List<String> jvm, List<String> fullArgs, List<String> smokeArgs, int timeoutMinutes) {
        return new Step(name, java(jvm, main.getName(), fullArgs), java(jvm, main.getName(), smokeArgs), timeoutMinutes);
    }

    /**
     * JMH benchmarks whose names match {@code include} (a regular expression), results as JSON in
     * {@code {results}/jmh-<name>.json}. {@code fullOptions} and {@code smokeOptions} are JMH's own options (forks,
     * iterations, {@code -p} parameters, {@code -jvmArgsAppend}).
     */
    public static Step jmh(String name, String include, List<String> fullOptions, List<String> smokeOptions, int timeoutMinutes) {
        List<String> tail = List.of("-rf", "json", "-rff", "{results}/jmh-" + name + ".json");
        List<String> full = new ArrayList<>(List.of(include));
        full.addAll(fullOptions);
        full.addAll(tail);
        List<String> smoke = new ArrayList<>(List.of(include));
        smoke.addAll(smokeOptions);
        smoke.addAll(tail);
        return new Step(name, java(List.of(), "org.openjdk.jmh.Main", full), java(List.of(), "org.openjdk.jmh.Main", smoke), timeoutMinutes);
    }

    private static List<String> java(List<String> jvm, String main, List<String> args) {
        List<String> c = new ArrayList<>(List.of("{java}"));
        c.addAll(jvm);
        c.addAll(List.of("-Djna.nosys=true", "-cp", "{cp}", main));
        c.addAll(args);
        return c;
    }

    /** The command with its placeholders filled in. */
    public List<String> command(boolean smokeRun, String results, String javaLauncher, String classPath, String repo) {
        String ovmf = java.nio.file.Files.isReadable(java.nio.file.Path.of("/usr/share/ovmf/OVMF.fd")) ? "/usr/share/ovmf/OVMF.fd"
                : repo + "/.cache/ovmf/current/usr/share/ovmf/OVMF.fd";
        return (smokeRun ? smoke : full).stream().map(a -> a.replace("{results}", results).replace("{java}", javaLauncher)
                .replace("{cp}", classPath).replace("{repo}", repo).replace("{ovmf}", ovmf)).toList();
    }
}
