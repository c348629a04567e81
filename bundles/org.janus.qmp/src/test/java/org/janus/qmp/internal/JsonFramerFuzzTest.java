package org.janus.qmp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.ArrayList;
import java.util.List;

/**
 * The QMP socket's framing as outside input: any bytes, fed in chunks as a socket delivers them, are cut into
 * messages and lexical errors, or end in an {@link JsonFramer.Overflow} (one line) once a bound is broken. Each message
 * is within the byte bound, starts with no whitespace, contains no control character but tab, CR and LF, and the
 * same bytes fed in other chunks give the same pieces.
 */
class JsonFramerFuzzTest {
    static final int MAX_BYTES = 1024;
    static final int MAX_DEPTH = 8;

    @FuzzTest
    void streams(byte[] input) {
        if (input.length == 0) return;
        int chunk = 1 + (input[0] & 0x3f);
        List<String> whole = pieces(input, 1, input.length);
        List<String> chunked = new ArrayList<>();
        JsonFramer framer = new JsonFramer(MAX_BYTES, MAX_DEPTH);
        String overflow = null;
        try {
            for (int i = 1; i < input.length; i += chunk) {
                framer.feed(input, i, Math.min(chunk, input.length - i), p -> chunked.add(describe(p)));
            }
        } catch (JsonFramer.Overflow e) {
            overflow = "overflow: " + e.getMessage();
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
        if (overflow != null) chunked.add(overflow);
        assertEquals(whole, chunked, "the pieces do not depend on how the bytes arrive");
        for (String p : whole) {
            if (!p.startsWith("message: ")) continue;
            String json = p.substring("message: ".length());
            assertFalse(json.isEmpty());
            assertFalse(Character.isWhitespace(json.charAt(0)), "a message starts at its first token");
            assertTrue(json.length() <= MAX_BYTES, "within the bound (a byte decodes to at most one char)");
            assertTrue(json.chars().noneMatch(c -> c < 0x20 && c != '\t' && c != '\r' && c != '\n'), "no control characters");
        }
    }

    private static List<String> pieces(byte[] input, int from, int to) {
        List<String> out = new ArrayList<>();
        JsonFramer framer = new JsonFramer(MAX_BYTES, MAX_DEPTH);
        try {
            framer.feed(input, from, to - from, p -> out.add(describe(p)));
        } catch (JsonFramer.Overflow e) {
            out.add("overflow: " + e.getMessage());
        }
        return out;
    }

    private static String describe(JsonFramer.Piece p) {
        if (p instanceof JsonFramer.Piece.Message m) return "message: " + m.json();
        JsonFramer.Piece.Garbage g = (JsonFramer.Piece.Garbage) p;
        assertEquals(1, g.why().lines().count(), g.why());
        return "garbage: " + g.why();
    }
}
