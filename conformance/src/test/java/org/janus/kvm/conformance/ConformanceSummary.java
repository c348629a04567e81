package org.janus.kvm.conformance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.UniqueId;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Counts the conformance cases per target (passed, skipped with the reason, failed) and prints the table when the
 * run ends, also to {@code target/conformance-summary.txt}. Registered through META-INF/services.
 */
public final class ConformanceSummary implements TestExecutionListener {
    /** Unique-id segment of one run of a {@code @ParameterizedClass}: one target. */
    private static final String INVOCATION = "class-template-invocation";

    private record Outcome(String target, String testCase, TestExecutionResult.Status status, String reason) {}

    private final Map<String, Outcome> outcomes = new ConcurrentHashMap<>();
    private TestPlan plan;

    @Override public void testPlanExecutionStarted(TestPlan testPlan) { plan = testPlan; }

    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (!id.isTest()) return;
        Optional<String> target = targetOf(id);
        if (target.isEmpty()) return;
        String reason = result.getThrowable().map(t -> firstLine(t.getMessage())).orElse("");
        String testCase = className(id) + "." + id.getDisplayName();
        outcomes.put(id.getUniqueId(), new Outcome(target.get(), testCase, result.getStatus(), reason));
    }

    @Override
    public void testPlanExecutionFinished(TestPlan testPlan) {
        if (outcomes.isEmpty()) return;
        String report = render();
        System.out.println(report);
        try {
            Path out = Path.of("target", "conformance-summary.txt");
            if (Files.isDirectory(out.getParent())) Files.writeString(out, report);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Optional<String> targetOf(TestIdentifier id) {
        Optional<TestIdentifier> at = Optional.of(id);
        while (at.isPresent()) {
            TestIdentifier t = at.get();
            List<UniqueId.Segment> segments = UniqueId.parse(t.getUniqueId()).getSegments();
            if (segments.get(segments.size() - 1).getType().equals(INVOCATION)) return Optional.of(t.getDisplayName());
            at = plan.getParent(t);
        }
        return Optional.empty();
    }

    private static String className(TestIdentifier id) {
        for (UniqueId.Segment s : UniqueId.parse(id.getUniqueId()).getSegments()) {
            if (s.getType().equals("class-template") || s.getType().equals("class")) {
                String name = s.getValue();
                return name.substring(name.lastIndexOf('.') + 1);
            }
        }
        return "?";
    }

    private static String firstLine(String message) {
        if (message == null) return "";
        String line = message.lines().findFirst().orElse("");
        return line.replace("Assumption failed: ", "");
    }

    private String render() {
        Map<String, List<Outcome>> byTarget = new TreeMap<>();
        for (Outcome o : outcomes.values()) byTarget.computeIfAbsent(o.target(), k -> new ArrayList<>()).add(o);
        StringBuilder b = new StringBuilder("\nKVM conformance cases per target (executed = passed + failed)\n");
        b.append(String.format("%-28s %8s %8s %8s %8s%n", "target", "executed", "passed", "skipped", "failed"));
        for (Map.Entry<String, List<Outcome>> e : byTarget.entrySet()) {
            long passed = count(e.getValue(), TestExecutionResult.Status.SUCCESSFUL);
            long skipped = count(e.getValue(), TestExecutionResult.Status.ABORTED);
            long failed = count(e.getValue(), TestExecutionResult.Status.FAILED);
            b.append(String.format("%-28s %8d %8d %8d %8d%n", e.getKey(), passed + failed, passed, skipped, failed));
        }
        Map<String, TreeSet<String>> skipReasons = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        for (Outcome o : outcomes.values()) {
            if (o.status() == TestExecutionResult.Status.ABORTED) {
                String reason = o.reason().replaceAll(" \\(VM_TYPES=.*", "");
                skipReasons.computeIfAbsent(reason, k -> new TreeSet<>()).add(o.target() + " " + o.testCase());
            } else if (o.status() == TestExecutionResult.Status.FAILED) {
                failures.add(o.target() + " " + o.testCase() + ": " + o.reason());
            }
        }
        b.append("\nSkipped, by reason (cases):\n");
        for (Map.Entry<String, TreeSet<String>> e : skipReasons.entrySet()) {
            TreeSet<String> targets = new TreeSet<>();
            for (String c : e.getValue()) targets.add(c.substring(0, c.indexOf(' ')));
            b.append("  ").append(e.getValue().size()).append(" x ").append(e.getKey()).append("\n      on ").append(targets).append('\n');
        }
        if (!failures.isEmpty()) {
            b.append("\nFailed:\n");
            failures.stream().sorted().forEach(f -> b.append("  ").append(f).append('\n'));
        }
        return b.toString();
    }

    private static long count(List<Outcome> outcomes, TestExecutionResult.Status status) {
        return outcomes.stream().filter(o -> o.status() == status).count();
    }
}
