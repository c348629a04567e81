package org.janus.machine;

import java.util.List;
import java.util.stream.Collectors;

/** A machine spec was refused before anything was created; {@link #problems()} names every problem found. */
public class SpecException extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient List<SpecProblem> problems;

    public SpecException(List<SpecProblem> problems) {
        super(message(problems));
        if (problems.isEmpty()) throw new IllegalArgumentException("a spec exception needs at least one problem");
        this.problems = List.copyOf(problems);
    }

    public List<SpecProblem> problems() { return problems; }

    /** Each problem as one line ("PATH: what is wrong"), safe to print: see {@link #printable}. */
    public List<String> lines() { return lines(problems); }

    private static List<String> lines(List<SpecProblem> problems) {
        return problems.stream().map(p -> printable(p.toString())).toList();
    }

    private static String message(List<SpecProblem> problems) {
        return problems.size() + (problems.size() == 1 ? " problem" : " problems") + " in the machine spec:"
                + lines(problems).stream().map(l -> "\n  " + l).collect(Collectors.joining());
    }

    /**
     * {@code text} with control characters shown as escapes: problems quote what the spec says, and a spec must not
     * be able to write line breaks or terminal escapes into a report or a log.
     */
    static String printable(String text) {
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) b.append(String.format("\\u%04x", c));
            else b.appendCodePoint(c);
        });
        return b.toString();
    }
}
