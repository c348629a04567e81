package org.janus.qmp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.janus.machine.VmState;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;

/**
 * The QMP socket's input as a connection handles it: bytes through a {@link JsonFramer} into a {@link Session} over
 * {@link Commands} on the machine's real VmManager (outside a framework, the software KVM, a VM that is created and
 * not started, re-created when a fuzzed {@code cont}/{@code quit} ended it). The contract: every message gets exactly
 * one response, {@code return} or {@code error} with a QMP error class and a description; the {@code id} comes back
 * as it was sent; nothing escapes the session; every response goes on the wire as one ASCII line.
 */
class QmpSessionFuzzTest {
    static final int MAX_INPUT = 16 << 10;
    static final long MAX_NANOS = 10_000_000_000L;
    private static final VmManagerImpl MANAGER = TestVms.manager();
    private static final Commands COMMANDS = new Commands(MANAGER, "janus fuzz");
    private static final Set<String> CLASSES = Set.of(QmpError.GENERIC, QmpError.COMMAND_NOT_FOUND);

    @FuzzTest
    void sessions(byte[] input) throws Exception {
        if (input.length == 0 || input.length > MAX_INPUT) return;
        ensureVm();
        long start = System.nanoTime();
        Session session = new Session(COMMANDS, "fuzz");
        // Bit 0 of the first byte: negotiate first, so that the input reaches the commands.
        if ((input[0] & 1) != 0) assertTrue(session.handle("{ \"execute\": \"qmp_capabilities\" }").negotiated());
        List<JsonFramer.Piece> pieces = new ArrayList<>();
        JsonFramer framer = new JsonFramer(1 << 20, Json.MAX_DEPTH);
        try {
            framer.feed(input, 1, input.length - 1, pieces::add);
        } catch (JsonFramer.Overflow e) {
            check(Session.garbage(e.getMessage()), null);
        }
        for (JsonFramer.Piece p : pieces) {
            if (p instanceof JsonFramer.Piece.Garbage g) {
                check(Session.garbage(g.why()), null);
                continue;
            }
            String json = ((JsonFramer.Piece.Message) p).json();
            Session.Reply reply = session.handle(json);
            check(reply.response(), idOf(json));
        }
        long took = System.nanoTime() - start;
        assertTrue(took < MAX_NANOS, "the session took " + took / 1_000_000 + " ms");
    }

    /** A VM the commands can address: created, not started; a fuzzed cont or quit may have ended the one before. */
    private static void ensureVm() throws Exception {
        boolean live = MANAGER.list().stream().anyMatch(v -> !v.state().isFinal());
        if (!live) MANAGER.create(SpecReader.read(TestVms.hello("fuzz"), null));
        for (var v : MANAGER.list()) if (v.state() instanceof VmState.Running) MANAGER.awaitEnd(v.id(), TestVms.WAIT);
    }

    /** The id a message carries, if it is an object with one (the response must echo it). */
    private static JsonElement idOf(String json) {
        try {
            JsonElement e = Json.parse(json);
            return e.isJsonObject() ? e.getAsJsonObject().get("id") : null;
        } catch (RuntimeException notJson) {
            return null;
        }
    }

    private static void check(JsonObject response, JsonElement id) {
        assertNotNull(response);
        boolean ok = response.has("return");
        boolean error = response.has("error");
        assertTrue(ok ^ error, "exactly one of return and error: " + response);
        if (error) {
            JsonObject e = response.getAsJsonObject("error");
            assertTrue(CLASSES.contains(e.get("class").getAsString()), response.toString());
            String desc = e.get("desc").getAsString();
            assertFalse(desc.isBlank(), response.toString());
            assertFalse(desc.contains(" failed: java."), "a handler's RuntimeException as desc: " + desc);
        }
        if (id != null) assertEquals(id, response.get("id"), "the id comes back: " + response);
        byte[] wire = Json.wire(response);
        String line = new String(wire, StandardCharsets.US_ASCII);
        assertTrue(line.endsWith("\r\n") && line.indexOf('\n') == line.length() - 1, "one line: " + line);
        assertTrue(line.chars().allMatch(c -> c < 0x80), "ASCII");
    }
}
