package org.janus.qmp.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import java.util.Set;

/**
 * One client's side of the protocol, without the socket: capabilities negotiation, then commands. Each message in
 * gives exactly one response out. Until {@code qmp_capabilities} has succeeded every other command is
 * {@code CommandNotFound} and no events are delivered; after it, {@code qmp_capabilities} itself is.
 */
final class Session {
    private static final System.Logger LOG = System.getLogger(Session.class.getName());
    private static final Set<String> MEMBERS = Set.of("execute", "exec-oob", "arguments", "id");

    /** The response, and whether it completed capabilities negotiation (events may flow once it has been sent). */
    record Reply(JsonObject response, boolean negotiated) {}

    private final Commands commands;
    private final String who;
    private boolean negotiated;

    Session(Commands commands, String who) {
        this.commands = commands;
        this.who = who;
    }

    boolean negotiated() { return negotiated; }

    /** A JSON text that could not be read as a message (a lexical error): the error response for it. */
    static JsonObject garbage(String why) { return error(null, QmpError.generic(why)); }

    Reply handle(String text) {
        JsonElement parsed;
        try {
            parsed = Json.parse(text);
        } catch (JsonParseException | IllegalStateException e) {
            return new Reply(error(null, QmpError.generic("JSON parse error, " + parseMessage(e))), false);
        }
        if (!parsed.isJsonObject()) return new Reply(error(null, QmpError.generic("QMP input must be a JSON object")), false);
        JsonObject in = parsed.getAsJsonObject();
        JsonElement id = in.get("id");
        try {
            JsonElement result = execute(in);
            boolean entered = !negotiated && "qmp_capabilities".equals(in.get("execute").getAsString());
            if (entered) negotiated = true;
            JsonObject out = new JsonObject();
            out.add("return", result);
            if (id != null) out.add("id", id);
            return new Reply(out, entered);
        } catch (QmpError e) {
            return new Reply(error(id, e), false);
        }
    }

    private JsonElement execute(JsonObject in) throws QmpError {
        for (String member : in.keySet())
            if (!MEMBERS.contains(member)) throw QmpError.generic("QMP input member '" + member + "' is unexpected");
        if (in.has("exec-oob"))
            throw QmpError.generic("QMP input member 'exec-oob' is not accepted: this server offers no 'oob' capability");
        JsonElement execute = in.get("execute");
        if (execute == null) throw QmpError.generic("QMP input lacks member 'execute'");
        if (!execute.isJsonPrimitive() || !execute.getAsJsonPrimitive().isString())
            throw QmpError.generic("QMP input member 'execute' must be a string");
        JsonElement arguments = in.get("arguments");
        if (arguments != null && !arguments.isJsonObject()) throw QmpError.generic("QMP input member 'arguments' must be an object");
        String name = execute.getAsString();
        if (!negotiated && !name.equals("qmp_capabilities"))
            throw QmpError.notFound("Expecting capabilities negotiation with 'qmp_capabilities'");
        if (negotiated && name.equals("qmp_capabilities"))
            throw QmpError.notFound("Capabilities negotiation is already complete, command ignored");
        Command command = commands.find(name);
        if (command == null) throw QmpError.notFound("The command " + name + " has not been found");
        Command.Args args = command.check(arguments == null ? new JsonObject() : arguments.getAsJsonObject());
        try {
            return command.handler().run(args);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "QMP " + who + ": " + name + " failed", e);
            throw QmpError.generic(name + " failed: " + e);
        }
    }

    private static String parseMessage(RuntimeException e) {
        Throwable t = e;
        while (t.getCause() != null && t.getMessage() != null && t.getMessage().startsWith(t.getCause().getClass().getName())) t = t.getCause();
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        int hint = m.indexOf("\nSee ");
        return hint < 0 ? m : m.substring(0, hint);
    }

    static JsonObject error(JsonElement id, QmpError e) {
        JsonObject out = Json.object("error", Json.object("class", e.errorClass(), "desc", e.getMessage()));
        if (id != null) out.add("id", id);
        return out;
    }
}
