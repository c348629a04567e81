package org.janus.qmp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A raw QMP client for the tests: writes bytes as given, and reads the server's CRLF-terminated lines on a thread of
 * its own, so that a test can wait for a message with a timeout and see the end of the stream.
 */
final class TestClient implements AutoCloseable {
    static final long WAIT_SECONDS = 30;
    private static final JsonObject EOF = new JsonObject();

    private final SocketChannel channel;
    private final LinkedBlockingQueue<JsonObject> in = new LinkedBlockingQueue<>();
    private final List<JsonObject> events = new ArrayList<>();
    private final Thread reader;
    private int ids;

    TestClient(Path socket) throws IOException {
        channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        reader = new Thread(this::readLoop, "test-qmp-client");
        reader.setDaemon(true);
        reader.start();
    }

    /** Connects, checks the greeting and negotiates capabilities. */
    static TestClient negotiated(Path socket) throws Exception {
        TestClient c = new TestClient(socket);
        assertTrue(c.next().has("QMP"), "greeting");
        JsonObject r = c.execute("qmp_capabilities", null);
        assertTrue(r.has("return"), r.toString());
        return c;
    }

    private void readLoop() {
        ByteBuffer b = ByteBuffer.allocate(65536);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            while (true) {
                b.clear();
                int n = channel.read(b);
                if (n < 0) break;
                for (int i = 0; i < n; i++) {
                    byte x = b.get(i);
                    if (x == '\n') {
                        String s = line.toString(StandardCharsets.US_ASCII);
                        assertTrue(s.endsWith("\r"), "lines end in CRLF: " + s);
                        in.add(JsonParser.parseString(s).getAsJsonObject());
                        line.reset();
                    } else {
                        line.write(x);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // closed
        }
        in.add(EOF);
    }

    void sendRaw(String text) throws IOException { sendRaw(text.getBytes(StandardCharsets.UTF_8)); }

    void sendRaw(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) channel.write(b);
    }

    /** The next message (event or response), failing after the wait. */
    JsonObject next() throws InterruptedException {
        JsonObject m = in.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        assertNotNull(m, "no message from the server within " + WAIT_SECONDS + " s");
        assertTrue(m != EOF, "the server closed the connection");
        return m;
    }

    /** The next response, keeping events aside. */
    JsonObject response() throws InterruptedException {
        while (true) {
            JsonObject m = next();
            if (m.has("event")) events.add(m);
            else return m;
        }
    }

    /** Sends a command with a fresh id (no newline after it, as qemu.qmp sends) and returns its response. */
    JsonObject execute(String command, JsonObject arguments) throws Exception {
        String id = "t" + (++ids);
        JsonObject msg = new JsonObject();
        msg.addProperty("execute", command);
        if (arguments != null) msg.add("arguments", arguments);
        msg.addProperty("id", id);
        sendRaw(msg.toString());
        JsonObject r = response();
        assertEquals(id, r.get("id").getAsString(), r.toString());
        return r;
    }

    /** The {@code return} of a command that must succeed. */
    JsonElement ok(String command, JsonObject arguments) throws Exception {
        JsonObject r = execute(command, arguments);
        assertTrue(r.has("return"), command + " " + arguments + ": " + r);
        return r.get("return");
    }

    /** The error of a command that must fail: {class, desc}. */
    JsonObject error(String command, JsonObject arguments) throws Exception {
        JsonObject r = execute(command, arguments);
        assertTrue(r.has("error"), command + " " + arguments + " should fail: " + r);
        return r.getAsJsonObject("error");
    }

    /** Waits for the named event (looking at those already kept aside first). */
    JsonObject event(String name) throws InterruptedException {
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i).get("event").getAsString().equals(name)) return events.remove(i);
        }
        while (true) {
            JsonObject m = next();
            if (m.has("event") && m.get("event").getAsString().equals(name)) return m;
            if (m.has("event")) events.add(m);
        }
    }

    List<JsonObject> eventsSoFar() { return events; }

    /** Whether the server closed the connection within the wait, ignoring what it sent before. */
    boolean closedByServer() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (System.nanoTime() < deadline) {
            JsonObject m = in.poll(100, TimeUnit.MILLISECONDS);
            if (m == EOF) return true;
        }
        return false;
    }

    /** Every message that arrives until the server closes the connection. */
    List<JsonObject> drainToEnd() throws InterruptedException {
        List<JsonObject> out = new ArrayList<>();
        while (true) {
            JsonObject m = in.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            assertNotNull(m, "the server did not close the connection");
            if (m == EOF) return out;
            out.add(m);
        }
    }

    @Override public void close() throws IOException { channel.close(); }
}
