package org.janus.machine.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;

/**
 * Reads a JSON document as Gson's tree, refusing what a lenient reader lets through silently: a key that appears
 * twice in one object (a spec with two {@code policy} members must not launch with whichever came last), nesting
 * deeper than {@value #MAX_DEPTH}, and anything after the document.
 */
final class StrictJson {
    static final int MAX_DEPTH = 64;

    /** Why a document was refused, and where ({@code $.platform.policy}). */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final String path;

        Refused(String path, String message) {
            super(message);
            this.path = path;
        }
    }

    private StrictJson() {}

    static JsonElement parse(String json) throws Refused, IOException {
        JsonReader reader = new JsonReader(new StringReader(json));
        reader.setStrictness(Strictness.STRICT);
        JsonElement root = value(reader, "$", 0);
        if (reader.peek() != JsonToken.END_DOCUMENT) throw new Refused("$", "not valid JSON: more after the document");
        return root;
    }

    private static JsonElement value(JsonReader r, String path, int depth) throws Refused, IOException {
        if (depth > MAX_DEPTH) throw new Refused(path, "nested deeper than " + MAX_DEPTH + " levels");
        switch (r.peek()) {
            case BEGIN_OBJECT -> {
                JsonObject o = new JsonObject();
                r.beginObject();
                while (r.hasNext()) {
                    String key = r.nextName();
                    String at = path + "." + key;
                    if (o.has(key)) throw new Refused(at, "appears twice in one object; each key may appear once");
                    o.add(key, value(r, at, depth + 1));
                }
                r.endObject();
                return o;
            }
            case BEGIN_ARRAY -> {
                JsonArray a = new JsonArray();
                r.beginArray();
                for (int i = 0; r.hasNext(); i++) a.add(value(r, path + "[" + i + "]", depth + 1));
                r.endArray();
                return a;
            }
            case STRING -> {
                return new JsonPrimitive(r.nextString());
            }
            case NUMBER -> {
                String number = r.nextString();
                try {
                    return new JsonPrimitive(new java.math.BigDecimal(number));
                } catch (NumberFormatException e) {
                    // JSON allows any exponent; BigDecimal reads those of 32 bits ("1e99999999999" is refused here).
                    throw new Refused(path, "the number " + (number.length() > 40 ? number.substring(0, 40) + "..." : number)
                            + " is out of range");
                }
            }
            case BOOLEAN -> {
                return new JsonPrimitive(r.nextBoolean());
            }
            case NULL -> {
                r.nextNull();
                return JsonNull.INSTANCE;
            }
            default -> throw new Refused(path, "not valid JSON: unexpected " + r.peek());
        }
    }
}
