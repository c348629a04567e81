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

    private static String message(List<SpecProblem> problems) {
        return problems.size() + (problems.size() == 1 ? " problem" : " problems") + " in the machine spec:"
                + problems.stream().map(p -> "\n  " + p).collect(Collectors.joining());
    }
}
