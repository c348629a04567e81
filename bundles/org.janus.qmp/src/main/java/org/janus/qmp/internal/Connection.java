package org.janus.qmp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * One client on the socket: a reader thread that cuts the input into messages and answers each in turn, and a
 * writer thread that sends responses and events in the order they were queued. The queue is bounded: a client that
 * does not read what it is sent is disconnected rather than let memory grow, and so is one that sends more than
 * the framer allows or leaves a message unfinished for longer than the server's timeout. Every disconnection the
 * client did not ask for is logged once.
 */
final class Connection {
    private static final System.Logger LOG = System.getLogger(Connection.class.getName());
    private static final byte[] END = new byte[0];

    /** The bounds a connection keeps to. */
    record Limits(int maxMessageBytes, int queuedMessages, long partialMessageNanos) {}

    private final String name;
    private final SocketChannel channel;
    private final Session session;
    private final Commands commands;
    private final Limits limits;
    private final Consumer<Connection> closed;
    private final BlockingQueue<byte[]> out;
    private final AtomicBoolean open = new AtomicBoolean(true);
    private final Consumer<byte[]> eventSink = this::event;
    private volatile boolean events;
    /** When the message being read began, or 0 when none is unfinished. */
    private volatile long partialSince;

    Connection(String name, SocketChannel channel, Commands commands, Limits limits, Consumer<Connection> closed) {
        this.name = name;
        this.channel = channel;
        this.commands = commands;
        this.session = new Session(commands, name);
        this.limits = limits;
        this.closed = closed;
        this.out = new ArrayBlockingQueue<>(limits.queuedMessages() + 1);
    }

    String name() { return name; }

    /** What the event hub offers this connection's events through. */
    Consumer<byte[]> eventSink() { return eventSink; }

    void start() {
        send(Json.wire(commands.greeting()));
        Thread writer = new Thread(this::writeLoop, "janus-qmp-" + name + "-write");
        Thread reader = new Thread(this::readLoop, "janus-qmp-" + name + "-read");
        writer.setDaemon(true);
        reader.setDaemon(true);
        writer.start();
        reader.start();
    }

    private void readLoop() {
        JsonFramer framer = new JsonFramer(limits.maxMessageBytes(), Json.MAX_DEPTH);
        ByteBuffer buffer = ByteBuffer.allocate(8192);
        try {
            while (open.get()) {
                buffer.clear();
                int n = channel.read(buffer);
                if (n < 0) {
                    close(null);
                    return;
                }
                framer.feed(buffer.array(), 0, n, piece -> {
                    partialSince = 0;
                    if (piece instanceof JsonFramer.Piece.Message m) {
                        Session.Reply r = session.handle(m.json());
                        respond(Json.wire(r.response()), r.negotiated());
                    } else if (piece instanceof JsonFramer.Piece.Garbage g) {
                        send(Json.wire(Session.garbage(g.why())));
                    }
                });
                if (!framer.pending()) partialSince = 0;
                else if (partialSince == 0) partialSince = System.nanoTime();
            }
        } catch (JsonFramer.Overflow e) {
            send(Json.wire(Session.garbage(e.getMessage())));
            close(e.getMessage());
        } catch (ClosedChannelException e) {
            close(null);
        } catch (IOException | RuntimeException e) {
            close("reading failed: " + e);
        }
    }

    private void writeLoop() {
        try {
            while (true) {
                byte[] message = out.take();
                if (message == END) break;
                ByteBuffer b = ByteBuffer.wrap(message);
                while (b.hasRemaining()) channel.write(b);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close(null);
        } catch (IOException e) {
            close(open.get() && !(e instanceof ClosedChannelException) ? "writing failed: " + e : null);
        } finally {
            closeChannel();
        }
    }

    /** Queues a response; a client that has let its queue fill up is disconnected. */
    private void send(byte[] message) {
        if (!open.get()) return;
        if (!out.offer(message)) close("it does not read what it is sent (" + limits.queuedMessages() + " messages queued)");
    }

    /**
     * Queues a response, and when it completed negotiation lets events flow, both under the lock that events are
     * queued under: an event raised once the client can have read the response is queued after it, never lost,
     * and none is queued before it.
     */
    private void respond(byte[] response, boolean negotiated) {
        synchronized (eventSink) {
            send(response);
            if (negotiated) events = true;
        }
    }

    private void event(byte[] message) {
        synchronized (eventSink) {
            if (events) send(message);
        }
    }

    /** Disconnects a client whose unfinished message is older than the limit; called by the server's watchdog. */
    void checkTimeout(long now) {
        long since = partialSince;
        if (since != 0 && now - since > limits.partialMessageNanos())
            close("it left a message unfinished for more than " + limits.partialMessageNanos() / 1_000_000_000L + " s");
    }

    /**
     * Ends the connection once: the writer sends what is queued up to the end marker, then closes the channel.
     * {@code why} is logged when not null (the client did not ask for it).
     */
    void close(String why) {
        if (!open.compareAndSet(true, false)) return;
        if (why != null) LOG.log(System.Logger.Level.WARNING, "QMP client " + name + " disconnected: " + why);
        events = false;
        if (!out.offer(END)) {
            out.clear();
            out.offer(END);
            closeChannel();
        }
        try {
            channel.shutdownInput();
        } catch (IOException | RuntimeException ignored) {
            // already closed
        }
        closed.accept(this);
    }

    /** Closes at once (the server is going away). */
    void abort() {
        close(null);
        closeChannel();
    }

    private void closeChannel() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing more to tell the client
        }
    }
}
