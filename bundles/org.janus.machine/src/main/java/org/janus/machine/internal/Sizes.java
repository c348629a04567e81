package org.janus.machine.internal;

import java.math.BigInteger;
import java.util.Locale;

/**
 * Byte counts and guest physical addresses as a spec writes them: a JSON number, or a string holding a decimal
 * or {@code 0x} hex number, optionally followed by a binary unit (K, M, G, T, with or without {@code iB}).
 */
final class Sizes {
    private static final BigInteger MAX = BigInteger.valueOf(Long.MAX_VALUE);

    private Sizes() {}

    /** The value, or throws with a sentence saying what is wrong. */
    static long parse(String text) {
        String t = text.trim();
        if (t.isEmpty()) throw new IllegalArgumentException("an empty string is not a size");
        String lower = t.toLowerCase(Locale.ROOT);
        int shift = 0;
        String digits = lower;
        String[][] units = {{"kib", "10"}, {"mib", "20"}, {"gib", "30"}, {"tib", "40"},
                {"k", "10"}, {"m", "20"}, {"g", "30"}, {"t", "40"}};
        boolean hex = lower.startsWith("0x");
        for (String[] u : units) {
            // A trailing b/k/... in a hex number is a digit, not a unit: 0x1b is 27.
            if (!hex && lower.endsWith(u[0])) {
                digits = lower.substring(0, lower.length() - u[0].length()).trim();
                shift = Integer.parseInt(u[1]);
                break;
            }
        }
        BigInteger value;
        try {
            value = hex ? new BigInteger(digits.substring(2), 16) : new BigInteger(digits, 10);
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new IllegalArgumentException("'" + text + "' is not a size (write bytes, 0x hex, or a number with K, M, G or T)");
        }
        if (value.signum() < 0) throw new IllegalArgumentException("'" + text + "' is negative");
        value = value.shiftLeft(shift);
        if (value.compareTo(MAX) > 0) throw new IllegalArgumentException("'" + text + "' overflows 64 bits (2^63 - 1 at most)");
        return value.longValueExact();
    }

    /** A human-readable size: 64 MiB, 1 GiB, 4 KiB, 12345 bytes. */
    static String format(long bytes) {
        if (bytes < 0) return "n/a";
        String[] names = {"bytes", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        double v = bytes;
        while (v >= 1024 && i < names.length - 1) {
            v /= 1024;
            i++;
        }
        if (i == 0) return bytes + " bytes";
        return (v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v)) + " " + names[i];
    }

    static String hex(long value) { return "0x" + Long.toHexString(value); }
}
