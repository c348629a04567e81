package org.janus.qmp.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One QMP command: its name, the arguments it takes with their types, and what it does. Arguments are checked as
 * QEMU checks them, before the command runs: a member the command does not know, a value of the wrong type or a
 * missing required member is a {@code GenericError} and the command has no effect.
 */
record Command(String name, Map<String, Param> params, Handler handler) {
    Command {
        params = Map.copyOf(params);
    }

    /** The kinds of argument values Janus's commands take. */
    enum Type {
        STRING("string"), INT("int"), BOOL("boolean"), STRING_LIST("array of strings");

        final String word;

        Type(String word) { this.word = word; }
    }

    record Param(String name, Type type, boolean required) {}

    @FunctionalInterface
    interface Handler {
        /** @return the command's {@code return} value */
        JsonElement run(Args args) throws QmpError;
    }

    /** A command's name, arguments and handler, built member by member. */
    static Builder named(String name) { return new Builder(name); }

    static final class Builder {
        private final String name;
        private final Map<String, Param> params = new LinkedHashMap<>();

        private Builder(String name) { this.name = name; }

        Builder required(String param, Type type) {
            params.put(param, new Param(param, type, true));
            return this;
        }

        Builder optional(String param, Type type) {
            params.put(param, new Param(param, type, false));
            return this;
        }

        Command does(Handler handler) { return new Command(name, params, handler); }
    }

    /** Checks {@code arguments} against the parameters: unknown, wrongly typed and missing members are refused. */
    Args check(JsonObject arguments) throws QmpError {
        for (Map.Entry<String, JsonElement> e : arguments.entrySet()) {
            Param p = params.get(e.getKey());
            if (p == null) throw QmpError.generic("Parameter '" + e.getKey() + "' is unexpected" + hint(e.getKey()));
            if (!fits(p.type(), e.getValue()))
                throw QmpError.generic("Invalid parameter type for '" + e.getKey() + "', expected: " + p.type().word);
        }
        for (Param p : params.values()) {
            if (p.required() && !arguments.has(p.name())) throw QmpError.generic("Parameter '" + p.name() + "' is missing");
        }
        return new Args(arguments);
    }

    /** QEMU's commands name the VM with the downstream member; a plain {@code vm} there gets a pointer to it. */
    private String hint(String member) {
        if (member.equals("vm") && params.containsKey(Commands.VM_MEMBER))
            return " (Janus names the VM of QEMU's commands with '" + Commands.VM_MEMBER + "')";
        return "";
    }

    private static boolean fits(Type type, JsonElement value) {
        if (value == null || value.isJsonNull()) return false;
        return switch (type) {
            case STRING -> value.isJsonPrimitive() && value.getAsJsonPrimitive().isString();
            case BOOL -> value.isJsonPrimitive() && value.getAsJsonPrimitive().isBoolean();
            case INT -> value.isJsonPrimitive() && value.getAsJsonPrimitive().isNumber() && isLong(value.getAsString());
            case STRING_LIST -> value.isJsonArray() && allStrings(value);
        };
    }

    private static boolean isLong(String number) {
        try {
            Long.parseLong(number);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean allStrings(JsonElement array) {
        for (JsonElement e : array.getAsJsonArray()) if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) return false;
        return true;
    }

    /** Checked arguments. */
    static final class Args {
        private final JsonObject raw;

        Args(JsonObject raw) { this.raw = raw; }

        /** The string member, or null when absent. */
        String string(String name) { return raw.has(name) ? raw.get(name).getAsString() : null; }

        long integer(String name, long fallback) { return raw.has(name) ? raw.get(name).getAsLong() : fallback; }

        List<String> strings(String name) {
            List<String> out = new ArrayList<>();
            if (raw.has(name)) raw.get(name).getAsJsonArray().forEach(e -> out.add(e.getAsString()));
            return out;
        }
    }
}
