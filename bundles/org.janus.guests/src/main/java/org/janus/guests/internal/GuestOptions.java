package org.janus.guests.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.janus.machine.SpecProblem;

/**
 * A guest program's options, read with defaults and checked: unknown names and values of the wrong type or out
 * of range become problems (paths relative to {@code $.guest.options}) and the default is used instead.
 */
final class GuestOptions {
    private final Map<String, Object> options;
    private final List<SpecProblem> problems = new ArrayList<>();

    GuestOptions(Map<String, Object> options, Set<String> known) {
        this.options = options;
        for (String name : options.keySet()) {
            if (!known.contains(name))
                problems.add(new SpecProblem(name, "unknown option; known: " + (known.isEmpty() ? "none" : String.join(", ", new TreeSet<>(known)))));
        }
    }

    List<SpecProblem> problems() { return List.copyOf(problems); }

    void problem(String path, String message) { problems.add(new SpecProblem(path, message)); }

    long whole(String name, long fallback, long min, long max) {
        Object v = options.get(name);
        if (v == null) return fallback;
        if (!(v instanceof Long l)) {
            problems.add(new SpecProblem(name, "must be a whole number, not " + v));
            return fallback;
        }
        if (l < min || l > max) {
            problems.add(new SpecProblem(name, l + " is outside " + min + ".." + max));
            return fallback;
        }
        return l;
    }

    /** A list of strings, each one of {@code allowed}. */
    List<String> choices(String name, List<String> fallback, List<String> allowed) {
        Object v = options.get(name);
        if (v == null) return fallback;
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            problems.add(new SpecProblem(name, "must be a non-empty list of " + String.join(", ", allowed)));
            return fallback;
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            Object e = list.get(i);
            if (!(e instanceof String s) || !allowed.contains(s)) {
                problems.add(new SpecProblem(name + "[" + i + "]", e + " is not one of " + String.join(", ", allowed)));
                return fallback;
            }
            if (!out.contains(s)) out.add(s);
        }
        return out;
    }
}
