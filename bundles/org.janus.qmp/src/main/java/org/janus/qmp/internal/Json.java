package org.janus.qmp.internal;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.Collection;

/** JSON in and out as QMP wants it: strict on input, one line of ASCII ending in CRLF on output. */
final class Json {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();
    /** How deep input may nest (the framer refuses deeper input before it gets here). */
    static final int MAX_DEPTH = 64;

    private Json() {}

    /** Parses one JSON text strictly (no single quotes, comments or unquoted names). */
    static JsonElement parse(String text) {
        JsonReader reader = new JsonReader(new StringReader(text));
        reader.setStrictness(Strictness.STRICT);
        reader.setNestingLimit(MAX_DEPTH);
        JsonElement e = JsonParser.parseReader(reader);
        try {
            if (reader.peek() != com.google.gson.stream.JsonToken.END_DOCUMENT)
                throw new com.google.gson.JsonSyntaxException("more than one JSON value in a message");
        } catch (java.io.IOException impossible) {
            throw new com.google.gson.JsonSyntaxException(impossible);
        }
        return e;
    }

    /**
     * The message as it goes on the wire: compact, every character outside ASCII escaped (QMP's output is ASCII),
     * followed by CRLF.
     */
    static byte[] wire(JsonObject message) {
        String s = GSON.toJson(message);
        StringBuilder out = new StringBuilder(s.length() + 2);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) out.append(c);
            else out.append(String.format("\\u%04x", (int) c));
        }
        return out.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    static JsonObject object(Object... keysAndValues) {
        JsonObject o = new JsonObject();
        for (int i = 0; i < keysAndValues.length; i += 2) o.add((String) keysAndValues[i], of(keysAndValues[i + 1]));
        return o;
    }

    static JsonArray array(Collection<? extends JsonElement> elements) {
        JsonArray a = new JsonArray(elements.size());
        elements.forEach(a::add);
        return a;
    }

    static JsonArray strings(Collection<String> values) {
        JsonArray a = new JsonArray(values.size());
        values.forEach(a::add);
        return a;
    }

    static JsonElement of(Object value) {
        if (value instanceof JsonElement e) return e;
        if (value instanceof String s) return new JsonPrimitive(s);
        if (value instanceof Number n) return new JsonPrimitive(n);
        if (value instanceof Boolean b) return new JsonPrimitive(b);
        if (value == null) return com.google.gson.JsonNull.INSTANCE;
        throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
    }

    /** A JSON value's kind as QMP's error messages name it. */
    static String kind(JsonElement e) {
        if (e == null || e.isJsonNull()) return "null";
        if (e.isJsonObject()) return "object";
        if (e.isJsonArray()) return "array";
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) return "boolean";
        if (p.isNumber()) return "number";
        return "string";
    }
}
