package org.janus.qmp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.janus.machine.MachineSpec;
import org.janus.machine.VmState;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The QMP socket over a real Unix socket, against the machine's real VM manager running VMs on the software KVM:
 * the protocol (greeting, negotiation, commands, errors, events), addressing VMs, the socket file, and bad input.
 */
class QmpServerTest {
    @TempDir Path dir;
    private VmManagerImpl manager;
    private Server server;
    private Path socket;
    private final List<TestClient> clients = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        manager = TestVms.manager();
        socket = dir.resolve("qmp.sock");
        server = serve(16, 1 << 20, 30);
    }

    private Server serve(int maxConnections, int maxBytes, long timeoutSeconds) throws IOException {
        return Server.start(manager, new Server.Settings(socket, maxConnections,
                new Connection.Limits(maxBytes, 256, TimeUnit.SECONDS.toNanos(timeoutSeconds))), "janus 0.1.0.test");
    }

    @AfterEach
    void stop() throws IOException {
        for (TestClient c : clients) c.close();
        if (server != null) server.close();
        for (VmManagerImpl.VmInfo v : manager.list()) manager.stop(v.id());
    }

    private TestClient client() throws Exception {
        TestClient c = TestClient.negotiated(socket);
        clients.add(c);
        return c;
    }

    private TestClient raw() throws Exception {
        TestClient c = new TestClient(socket);
        clients.add(c);
        return c;
    }

    private String create(String json) throws Exception { return manager.create(MachineSpec.parse(json, dir)); }

    private static JsonObject args(Object... kv) { return Json.object(kv); }

    @Test
    void greetingThenNegotiationThenCommands() throws Exception {
        TestClient c = raw();
        JsonObject greeting = c.next();
        JsonObject qmp = greeting.getAsJsonObject("QMP");
        assertEquals(Json.object("qemu", Json.object("major", 8, "minor", 2, "micro", 0), "package", "janus 0.1.0.test"),
                qmp.get("version"));
        assertEquals(new JsonArray(), qmp.get("capabilities"));

        JsonObject early = c.error("query-status", null);
        assertEquals("CommandNotFound", early.get("class").getAsString(), early.toString());
        assertEquals("GenericError", c.error("qmp_capabilities", args("enable", Json.strings(List.of("oob")))).get("class").getAsString());
        assertEquals(new JsonObject(), c.ok("qmp_capabilities", null));
        JsonObject again = c.error("qmp_capabilities", null);
        assertEquals("CommandNotFound", again.get("class").getAsString());

        JsonObject version = c.ok("query-version", null).getAsJsonObject();
        assertEquals(8, version.getAsJsonObject("qemu").get("major").getAsInt());
        List<String> names = new ArrayList<>();
        c.ok("query-commands", null).getAsJsonArray().forEach(e -> names.add(e.getAsJsonObject().get("name").getAsString()));
        assertTrue(names.containsAll(List.of("qmp_capabilities", "query-status", "stop", "cont", "quit", "query-cpus-fast",
                "query-memory-size-summary", "query-version", "query-commands", "__org.janus_query-vms", "__org.janus_query-memory-map",
                "__org.janus_query-conversions", "__org.janus_query-services", "__org.janus_swap")), names.toString());
        JsonObject unknown = c.error("system_reset", null);
        assertEquals("CommandNotFound", unknown.get("class").getAsString());
    }

    @Test
    void aVmThroughItsLifeWithEvents() throws Exception {
        String vm = create(TestVms.storm("storm"));
        TestClient c = client();
        TestClient watcher = client();

        JsonObject status = c.ok("query-status", null).getAsJsonObject();
        assertEquals("prelaunch", status.get("status").getAsString());
        assertFalse(status.get("running").getAsBoolean());
        assertFalse(status.get("singlestep").getAsBoolean());
        assertEquals(vm, status.get("__org.janus_vm").getAsString());

        c.ok("cont", null);
        assertEquals(vm, c.event("RESUME").getAsJsonObject("data").get("__org.janus_vm").getAsString());
        watcher.event("RESUME");
        JsonObject running = c.ok("query-status", null).getAsJsonObject();
        assertEquals("running", running.get("status").getAsString());
        assertTrue(running.get("running").getAsBoolean());

        c.ok("stop", null);
        JsonObject stopEvent = c.event("STOP");
        assertTrue(stopEvent.getAsJsonObject("timestamp").get("seconds").getAsLong() > 1_600_000_000L, stopEvent.toString());
        assertTrue(stopEvent.getAsJsonObject("timestamp").get("microseconds").getAsLong() < 1_000_000L);
        assertEquals("paused", c.ok("query-status", null).getAsJsonObject().get("status").getAsString());
        assertInstanceOf(VmState.Paused.class, manager.state(vm));
        c.ok("stop", null);
        c.ok("cont", null);
        c.event("RESUME");
        c.ok("cont", null);

        JsonArray cpus = c.ok("query-cpus-fast", null).getAsJsonArray();
        assertEquals(2, cpus.size());
        for (int i = 0; i < 2; i++) {
            JsonObject cpu = cpus.get(i).getAsJsonObject();
            assertEquals(i, cpu.get("cpu-index").getAsInt());
            assertTrue(cpu.get("thread-id").getAsLong() > 0, cpu.toString());
            assertEquals("/machine/janus/" + vm + "/vcpu[" + i + "]", cpu.get("qom-path").getAsString());
            assertEquals("x86_64", cpu.get("target").getAsString());
        }
        JsonObject size = c.ok("query-memory-size-summary", null).getAsJsonObject();
        assertEquals(80L << 20, size.get("base-memory").getAsLong());
        assertEquals(0, size.get("plugged-memory").getAsLong());

        long done = awaitConversions(c, vm, 0);
        awaitConversions(c, vm, done);
        JsonObject map = c.ok("__org.janus_query-memory-map", args("vm", vm, "max-runs", 4)).getAsJsonObject();
        JsonArray regions = map.getAsJsonArray("regions");
        assertEquals(List.of("low", "high"), List.of(regions.get(0).getAsJsonObject().get("name").getAsString(),
                regions.get(1).getAsJsonObject().get("name").getAsString()));
        for (JsonElement e : regions) {
            JsonObject r = e.getAsJsonObject();
            long covered = 0;
            for (JsonElement run : r.getAsJsonArray("runs")) covered += run.getAsJsonObject().get("size").getAsLong();
            assertTrue(r.getAsJsonArray("runs").size() <= 4);
            if (r.get("runs-omitted").getAsLong() == 0) assertEquals(r.get("size").getAsLong(), covered, r.toString());
            assertEquals(r.get("size").getAsLong(), r.get("private-bytes").getAsLong() + r.get("shared-bytes").getAsLong());
            assertEquals("guest-memfd", r.get("backend").getAsString());
        }

        JsonArray vms = c.ok("__org.janus_query-vms", null).getAsJsonArray();
        assertEquals(1, vms.size());
        assertEquals("running", vms.get(0).getAsJsonObject().get("status").getAsString());

        c.ok("quit", null);
        JsonObject shutdown = c.event("SHUTDOWN");
        assertEquals(Json.object("guest", false, "reason", "host-qmp-quit"),
                Json.object("guest", shutdown.getAsJsonObject("data").get("guest"), "reason", shutdown.getAsJsonObject("data").get("reason")));
        watcher.event("SHUTDOWN");
        assertTrue(manager.state(vm).isFinal());
        assertEquals("shutdown", c.ok("query-status", args("__org.janus_vm", vm)).getAsJsonObject().get("status").getAsString());
        JsonObject gone = c.error("query-status", null);
        assertTrue(gone.get("desc").getAsString().contains("no VM is live (ended: " + vm + ")"), gone.toString());
        assertEquals(new JsonObject(), c.ok("quit", args("__org.janus_vm", vm)), "quitting an ended VM changes nothing");
    }

    /** Waits until the VM has done more conversions than {@code beyond}; returns how many. */
    private static long awaitConversions(TestClient c, String vm, long beyond) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            JsonObject conv = c.ok("__org.janus_query-conversions", args("vm", vm)).getAsJsonObject();
            long done = conv.get("done").getAsLong();
            if (done > beyond) {
                assertTrue(conv.getAsJsonArray("conversions").size() > 0, conv.toString());
                return done;
            }
            assertTrue(System.nanoTime() < deadline, "no conversion beyond " + beyond + ": " + conv);
            Thread.sleep(20);
        }
    }

    @Test
    void aGuestThatEndsByItselfGivesAGuestShutdown() throws Exception {
        TestClient c = client();
        String vm = create(TestVms.hello("hello"));
        c.ok("cont", args("__org.janus_vm", vm));
        JsonObject data = c.event("SHUTDOWN").getAsJsonObject("data");
        assertTrue(data.get("guest").getAsBoolean(), data.toString());
        assertEquals("guest-shutdown", data.get("reason").getAsString());
        assertEquals(vm, data.get("__org.janus_vm").getAsString());
    }

    @Test
    void severalVmsAreAddressedByIdAndNeverGuessed() throws Exception {
        TestClient c = client();
        JsonObject none = c.error("query-status", null);
        assertEquals("GenericError", none.get("class").getAsString());
        assertTrue(none.get("desc").getAsString().startsWith("no VM is live"), none.toString());

        String a = create(TestVms.storm("a"));
        String b = create(TestVms.storm("b"));
        JsonObject which = c.error("stop", null);
        assertEquals(2 + " VMs are live (" + a + ", " + b + "); name one with '__org.janus_vm'", which.get("desc").getAsString());
        c.ok("cont", args("__org.janus_vm", b));
        assertInstanceOf(VmState.Created.class, manager.state(a));
        assertInstanceOf(VmState.Running.class, manager.state(b));
        assertEquals("b", c.ok("query-name", args("__org.janus_vm", b)).getAsJsonObject().get("name").getAsString());

        JsonObject plain = c.error("query-status", args("vm", a));
        assertTrue(plain.get("desc").getAsString().contains("Parameter 'vm' is unexpected"), plain.toString());
        assertTrue(plain.get("desc").getAsString().contains("__org.janus_vm"), plain.toString());
        JsonObject unknown = c.error("query-status", args("__org.janus_vm", "vm-99"));
        assertTrue(unknown.get("desc").getAsString().contains("no VM vm-99"), unknown.toString());
        JsonObject mistyped = c.error("stop", args("__org.janus_vm", 1));
        assertEquals("Invalid parameter type for '__org.janus_vm', expected: string", mistyped.get("desc").getAsString());
        assertInstanceOf(VmState.Running.class, manager.state(b), "refused commands change nothing");
        assertEquals(2, c.ok("__org.janus_query-vms", null).getAsJsonArray().size());
    }

    @Test
    void servicesAndSwap() throws Exception {
        TestClient c = client();
        String vm = create(TestVms.storm("swap"));
        c.ok("cont", null);
        JsonArray platforms = c.ok("__org.janus_query-services", args("kind", "platform")).getAsJsonArray();
        List<String> ids = new ArrayList<>();
        platforms.forEach(p -> ids.add(p.getAsJsonObject().get("id").getAsString()));
        assertTrue(ids.containsAll(List.of("none", "sw-protected")), ids.toString());
        for (JsonElement p : platforms) {
            JsonObject o = p.getAsJsonObject();
            if (o.get("id").getAsString().equals("sw-protected")) assertEquals(Json.strings(List.of(vm)), o.get("vms"));
        }
        JsonArray backends = c.ok("__org.janus_query-services", args("kind", "backend")).getAsJsonArray();
        assertEquals(2, backends.size());
        assertEquals("GenericError", c.error("__org.janus_query-services", args("kind", "kvm")).get("class").getAsString());

        JsonObject same = c.ok("__org.janus_swap", args("kind", "platform")).getAsJsonObject();
        assertFalse(same.get("swapped").getAsBoolean(), same.toString());

        manager.directory().addPlatform("sw-protected", new SwProtectedPlatform(), 10);
        JsonObject swapped = c.ok("__org.janus_swap", args("vm", vm, "kind", "platform", "id", "sw-protected")).getAsJsonObject();
        assertTrue(swapped.get("swapped").getAsBoolean(), swapped.toString());
        assertEquals(10, swapped.getAsJsonObject("to").get("ranking").getAsInt());
        JsonObject event = c.event("__org.janus_SWAPPED");
        assertEquals(vm, event.getAsJsonObject("data").get("vm").getAsString());
        assertEquals("platform", event.getAsJsonObject("data").get("kind").getAsString());
        assertInstanceOf(VmState.Running.class, manager.state(vm));

        JsonObject refused = c.error("__org.janus_swap", args("kind", "backend", "id", "legacy"));
        assertTrue(refused.get("desc").getAsString().contains("cannot"), refused.toString());
        JsonObject badKind = c.error("__org.janus_swap", args("kind", "disk"));
        assertTrue(badKind.get("desc").getAsString().contains("'disk'"), badKind.toString());
        JsonObject missing = c.error("__org.janus_swap", null);
        assertEquals("Parameter 'kind' is missing", missing.get("desc").getAsString());
        assertEquals(1, manager.status(vm).swaps(), "refused swaps change nothing");
    }

    @Test
    void eventsReachEveryNegotiatedClientAndNoOther() throws Exception {
        String vm = create(TestVms.storm("events"));
        TestClient early = raw();
        early.next();
        TestClient a = client();
        TestClient b = client();
        a.ok("cont", null);
        a.event("RESUME");
        b.event("RESUME");
        b.ok("stop", null);
        a.event("STOP");
        b.event("STOP");
        // The client that never negotiated got nothing but answers.
        early.sendRaw("{\"execute\":\"query-version\",\"id\":1}");
        JsonObject r = early.next();
        assertEquals("CommandNotFound", r.getAsJsonObject("error").get("class").getAsString(), r.toString());
        assertTrue(early.eventsSoFar().isEmpty());
        manager.stop(vm);
    }

    @Test
    void badInputGetsErrorsAndChangesNothing() throws Exception {
        String vm = create(TestVms.storm("steady"));
        manager.start(vm);
        TestClient c = client();
        c.sendRaw("nonsense\n");
        JsonObject parse = c.response();
        assertEquals("GenericError", parse.getAsJsonObject("error").get("class").getAsString(), parse.toString());
        assertFalse(parse.has("id"), "no id when none could be read");

        c.sendRaw("[1, 2]");
        assertEquals("QMP input must be a JSON object", c.response().getAsJsonObject("error").get("desc").getAsString());
        c.sendRaw("{\"execute\": \"stop\", \"surprise\": 1, \"id\": 7}");
        JsonObject unexpected = c.response();
        assertEquals(7, unexpected.get("id").getAsInt());
        assertEquals("QMP input member 'surprise' is unexpected", unexpected.getAsJsonObject("error").get("desc").getAsString());
        c.sendRaw("{\"execute\": \"stop\", \"arguments\": [], \"id\": 8}");
        assertEquals("QMP input member 'arguments' must be an object", c.response().getAsJsonObject("error").get("desc").getAsString());
        c.sendRaw("{\"execute\": 5, \"id\": 9}");
        assertEquals("QMP input member 'execute' must be a string", c.response().getAsJsonObject("error").get("desc").getAsString());
        c.sendRaw("{\"id\": 10}");
        assertEquals("QMP input lacks member 'execute'", c.response().getAsJsonObject("error").get("desc").getAsString());
        c.sendRaw("{\"exec-oob\": \"stop\", \"id\": 11}");
        assertEquals("GenericError", c.response().getAsJsonObject("error").get("class").getAsString());
        c.sendRaw("{'execute': 'stop'}");
        assertTrue(c.response().has("error"), "single quotes are not accepted");
        JsonObject typed = c.error("__org.janus_query-memory-map", args("vm", vm, "max-runs", "many"));
        assertEquals("Invalid parameter type for 'max-runs', expected: int", typed.get("desc").getAsString());
        assertEquals("GenericError", c.error("__org.janus_query-memory-map", args("vm", vm, "max-runs", 0)).get("class").getAsString());

        // One message in pieces, two in one write, whitespace between, no newlines: still one answer each, in order.
        c.sendRaw("{\"execute\": \"query-st");
        Thread.sleep(50);
        c.sendRaw("atus\", \"id\": \"p1\"}  \r\n{\"execute\":\"query-name\",\"id\":\"p2\"}{\"execute\":\"query-version\",\"id\":\"p3\"}");
        assertEquals("p1", c.response().get("id").getAsString());
        assertEquals("p2", c.response().get("id").getAsString());
        assertEquals("p3", c.response().get("id").getAsString());
        // Braces inside strings do not count; escapes are followed.
        c.sendRaw("{\"execute\": \"query-status\", \"id\": \"}{\\\"}\"}");
        assertEquals("}{\"}", c.response().get("id").getAsString());
        // A control character drops the unfinished message (the specification's way to resynchronise).
        c.sendRaw("{\"execute\": \"st");
        c.sendRaw(new byte[] {0x01});
        assertTrue(c.response().getAsJsonObject("error").get("desc").getAsString().contains("invalid character 0x1"));
        assertEquals("running", c.ok("query-status", null).getAsJsonObject().get("status").getAsString());
        // Non-ASCII in, ASCII out.
        JsonObject accents = c.error("query-status", args("__org.janus_vm", "v\u00e9m"));
        assertTrue(accents.get("desc").getAsString().contains("v\u00e9m"), accents.toString());
        assertInstanceOf(VmState.Running.class, manager.state(vm), "nothing was stopped by any of it");
    }

    @Test
    void boundsCloseTheConnectionAndTheServerGoesOn() throws Exception {
        server.close();
        server = serve(3, 4096, 1);
        String vm = create(TestVms.storm("bounded"));
        manager.start(vm);

        TestClient big = client();
        big.sendRaw("{\"execute\": \"query-status\", \"id\": \"" + "x".repeat(5000) + "\"}");
        List<JsonObject> last = big.drainToEnd();
        assertTrue(last.get(last.size() - 1).getAsJsonObject("error").get("desc").getAsString().contains("longer than 4096 bytes"),
                last.toString());

        TestClient deep = client();
        deep.sendRaw("[".repeat(100));
        List<JsonObject> deepLast = deep.drainToEnd();
        assertTrue(deepLast.get(deepLast.size() - 1).getAsJsonObject("error").get("desc").getAsString().contains("nested deeper"));

        TestClient slow = client();
        slow.sendRaw("{\"execute\": \"query-");
        assertTrue(slow.closedByServer(), "an unfinished message is dropped after the timeout");

        List<TestClient> full = new ArrayList<>();
        for (int i = 0; i < 3; i++) full.add(client());
        TestClient extra = raw();
        List<JsonObject> refused = extra.drainToEnd();
        assertEquals(1, refused.size(), refused.toString());
        assertTrue(refused.get(0).getAsJsonObject("error").get("desc").getAsString().startsWith("too many QMP connections (3)"));
        full.get(0).close();
        awaitConnections(2);
        TestClient again = client();
        assertEquals("running", again.ok("query-status", null).getAsJsonObject().get("status").getAsString());
        assertInstanceOf(VmState.Running.class, manager.state(vm));
    }

    @Test
    void aClientThatDoesNotReadIsDisconnected() throws Exception {
        try (SocketChannel lazy = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            // query-commands answers about 700 bytes: the socket's buffers and the server's queue hold far fewer
            // answers than are asked for here, and this client reads none of them until it is cut off.
            byte[] one = "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"query-commands\"}".getBytes(StandardCharsets.US_ASCII);
            int sent = 0;
            try {
                for (; sent < 20_000; sent++) {
                    ByteBuffer b = ByteBuffer.wrap(one);
                    while (b.hasRemaining()) lazy.write(b);
                }
            } catch (IOException cutOff) {
                // the server gave up on this client
            }
            ByteBuffer in = ByteBuffer.allocate(1 << 16);
            long lines = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                in.clear();
                int n = lazy.read(in);
                if (n < 0) break;
                for (int i = 0; i < n; i++) if (in.get(i) == '\n') lines++;
            }
            assertTrue(lines < 2L * sent + 1, "disconnected before everything was answered: " + lines + " lines for " + sent + " writes");
        }
        awaitConnections(0);
    }

    private void awaitConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (server.connections() != n && System.nanoTime() < deadline) Thread.sleep(10);
        assertEquals(n, server.connections());
    }

    @Test
    void theSocketFileIsTheOwnersAloneAndGoesWithTheServer() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));
        IOException live = assertThrows(IOException.class, () -> serve(4, 4096, 30));
        assertTrue(live.getMessage().contains("another process listens on " + socket), live.getMessage());
        try (var s = Files.list(dir)) {
            assertEquals(List.of(socket), s.toList(), "no staging directory is left behind");
        }
        server.close();
        server = null;
        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "the socket file is removed");

        Path regular = dir.resolve("file");
        Files.writeString(regular, "keep me");
        Server.Settings onFile = new Server.Settings(regular, 4, new Connection.Limits(4096, 16, TimeUnit.SECONDS.toNanos(5)));
        IOException notSocket = assertThrows(IOException.class, () -> Server.start(manager, onFile, "janus"));
        assertTrue(notSocket.getMessage().contains("is not a socket"), notSocket.getMessage());
        assertEquals("keep me", Files.readString(regular));

        Path nested = dir.resolve("run/janus/qmp.sock");
        server = Server.start(manager, new Server.Settings(nested, 4, new Connection.Limits(4096, 16, TimeUnit.SECONDS.toNanos(5))), "janus");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(nested.getParent())));
        server.close();
        server = null;
        assertTrue(Files.isDirectory(nested.getParent()));
        assertFalse(Files.exists(nested));
    }

    @Test
    void aStaleSocketIsReplaced() throws Exception {
        server.close();
        server = null;
        // A socket file nobody listens on, as a process that was killed leaves it.
        try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.bind(java.net.UnixDomainSocketAddress.of(socket));
        }
        assertTrue(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
        server = serve(4, 4096, 30);
        client().ok("query-version", null);
    }
}
