package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Test;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;

/**
 * {@link StrictJson}, the reader under every machine spec: any text is a JSON tree or a {@link StrictJson.Refused}
 * (at a JSON path, one line) or Gson's own {@link IOException} for malformed JSON; nothing else. A document it
 * accepts is one Gson's strict reader accepts too, with the same tree, no key twice in an object and no nesting
 * deeper than {@link StrictJson#MAX_DEPTH}.
 */
class StrictJsonFuzzTest {
    static final int MAX_INPUT = 64 << 10;

    @FuzzTest
    void documents(byte[] input) {
        if (input.length > MAX_INPUT) return;
        String json = new String(input, StandardCharsets.UTF_8);
        JsonElement tree;
        try {
            tree = StrictJson.parse(json);
        } catch (StrictJson.Refused e) {
            assertNotNull(e.path);
            assertTrue(e.path.startsWith("$"), "a refusal names a JSON path: " + e.path);
            assertNotNull(e.getMessage());
            assertFalse(e.getMessage().isBlank());
            assertEquals(1, e.getMessage().lines().count(), "one line: " + e.getMessage());
            return;
        } catch (IOException malformed) {
            assertNotNull(malformed.getMessage(), "Gson names what is malformed");
            return;
        }
        assertNotNull(tree);
        assertTrue(depth(tree) <= StrictJson.MAX_DEPTH + 1, "nesting within the limit");
        // What StrictJson accepts, Gson's strict reader accepts, and reads as the same tree.
        JsonReader reader = new JsonReader(new StringReader(json));
        reader.setStrictness(Strictness.STRICT);
        reader.setNestingLimit(Integer.MAX_VALUE);
        assertEquals(tree, JsonParser.parseReader(reader), "the same tree as Gson's for: " + json);
    }

    /** Found by the seed {@code huge-exponent}: BigDecimal's NumberFormatException escaped (and SpecReader said "not valid JSON"). */
    @Test
    void anExponentBeyond32BitsIsRefusedAtItsPath() {
        byte[] input = "{ \"n\": 1e99999999999 }".getBytes(StandardCharsets.UTF_8);
        documents(input);
        StrictJson.Refused e = org.junit.jupiter.api.Assertions.assertThrows(StrictJson.Refused.class,
                () -> StrictJson.parse(new String(input, StandardCharsets.UTF_8)));
        assertEquals("$.n", e.path);
        assertEquals("the number 1e99999999999 is out of range", e.getMessage());
    }

    private static int depth(JsonElement e) {
        if (e.isJsonObject()) return 1 + e.getAsJsonObject().entrySet().stream().mapToInt(m -> depth(m.getValue())).max().orElse(0);
        if (e.isJsonArray()) {
            int max = 0;
            for (JsonElement c : e.getAsJsonArray()) max = Math.max(max, depth(c));
            return 1 + max;
        }
        return 0;
    }
}
