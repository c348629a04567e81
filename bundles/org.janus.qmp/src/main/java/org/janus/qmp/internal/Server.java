package org.janus.qmp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.janus.machine.VmManager;

/**
 * The QMP socket of one VM manager: accepts clients on a {@link SocketFile}, one {@link Connection} (two threads)
 * each, up to a limit; past it a client gets one QMP error and is closed. Events reach every connection that has
 * negotiated capabilities.
 */
final class Server implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Server.class.getName());

    /** What a server keeps to. */
    record Settings(Path socket, int maxConnections, Connection.Limits limits) {}

    private final VmManager manager;
    private final Settings settings;
    private final Commands commands;
    private final Events events;
    private final SocketFile socket;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger numbers = new AtomicInteger();
    private final ScheduledExecutorService watchdog;
    private final Thread acceptor;
    private volatile boolean running = true;

    private Server(VmManager manager, Settings settings, String packageVersion) throws IOException {
        this.manager = manager;
        this.settings = settings;
        this.commands = new Commands(manager, packageVersion);
        this.events = new Events(commands::quitAsked);
        this.socket = SocketFile.listen(settings.socket(), Math.max(8, settings.maxConnections()));
        manager.addListener(events);
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "janus-qmp-watchdog"));
        watchdog.scheduleWithFixedDelay(this::checkTimeouts, 1, 1, TimeUnit.SECONDS);
        this.acceptor = daemon(this::acceptLoop, "janus-qmp-accept");
        acceptor.start();
    }

    /** Listens at the settings' path and serves until {@link #close()}. */
    static Server start(VmManager manager, Settings settings, String packageVersion) throws IOException {
        return new Server(manager, settings, packageVersion);
    }

    Path path() { return socket.path(); }

    int connections() { return connections.size(); }

    private void acceptLoop() {
        while (running) {
            SocketChannel client;
            try {
                client = socket.channel().accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!running) return;
                LOG.log(System.Logger.Level.WARNING, "QMP socket " + socket.path() + ": accept failed: " + e);
                pause();
                continue;
            }
            String name = "#" + numbers.incrementAndGet();
            if (connections.size() >= settings.maxConnections()) {
                refuse(client, name);
                continue;
            }
            Connection c = new Connection(name, client, commands, settings.limits(), this::closed);
            connections.add(c);
            events.add(c.eventSink());
            c.start();
        }
    }

    private void refuse(SocketChannel client, String name) {
        LOG.log(System.Logger.Level.WARNING, "QMP client " + name + " refused: " + settings.maxConnections() + " clients are connected");
        try (client) {
            client.write(ByteBuffer.wrap(Json.wire(Session.garbage("too many QMP connections (" + settings.maxConnections()
                    + "); try again later"))));
        } catch (IOException ignored) {
            // the client went already
        }
    }

    private void closed(Connection c) {
        events.remove(c.eventSink());
        connections.remove(c);
    }

    private void checkTimeouts() {
        long now = System.nanoTime();
        for (Connection c : connections) c.checkTimeout(now);
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Stops accepting, disconnects every client and removes the socket file. */
    @Override public void close() {
        running = false;
        manager.removeListener(events);
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "QMP socket " + socket.path() + ": removing it failed: " + e);
        }
        for (Connection c : connections) c.abort();
        watchdog.shutdownNow();
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
