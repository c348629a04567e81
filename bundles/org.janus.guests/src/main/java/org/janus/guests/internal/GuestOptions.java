package org.janus.guests.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

    /**
     * A size or address in bytes: a whole number, or a string in decimal, {@code 0x} hex or with a binary suffix
     * ({@code 4K}, {@code 2M}, {@code 1G}, {@code 1T}; {@code KiB} and {@code KB} read the same).
     */
    long size(String name, long fallback, long min, long max) {
        Object v = options.get(name);
        if (v == null) return fallback;
        long n;
        try {
            n = parseSize(v);
        } catch (IllegalArgumentException e) {
            problems.add(new SpecProblem(name, e.getMessage()));
            return fallback;
        }
        if (n < min || n > max) {
            problems.add(new SpecProblem(name, hex(n) + " is outside " + hex(min) + ".." + hex(max)));
            return fallback;
        }
        return n;
    }

    /** {@link #size}'s reading of one value, for values nested deeper than the options themselves. */
    static long parseSize(Object value) {
        if (value instanceof Long l) {
            if (l < 0) throw new IllegalArgumentException(l + " is negative");
            return l;
        }
        if (!(value instanceof String text)) throw new IllegalArgumentException("must be a number of bytes or a string such as"
                + " \"2M\" or \"0x100000\", not " + value);
        String t = text.strip().replace("_", "");
        try {
            if (t.startsWith("0x") || t.startsWith("0X")) {
                long v = Long.parseUnsignedLong(t.substring(2), 16);
                if (v < 0) throw new NumberFormatException();
                return v;
            }
            String upper = t.toUpperCase(Locale.ROOT);
            if (upper.endsWith("IB")) upper = upper.substring(0, upper.length() - 2);
            else if (upper.endsWith("B")) upper = upper.substring(0, upper.length() - 1);
            int shift = switch (upper.isEmpty() ? ' ' : upper.charAt(upper.length() - 1)) {
                case 'K' -> 10;
                case 'M' -> 20;
                case 'G' -> 30;
                case 'T' -> 40;
                default -> 0;
            };
            String digits = shift == 0 ? upper : upper.substring(0, upper.length() - 1);
            long n = Long.parseLong(digits.strip());
            if (n < 0 || (shift > 0 && n > (Long.MAX_VALUE >> shift))) throw new NumberFormatException();
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a size (a number, 0x hex, or with K, M, G or T)");
        }
    }

    static String hex(long v) { return "0x" + Long.toHexString(v); }

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
