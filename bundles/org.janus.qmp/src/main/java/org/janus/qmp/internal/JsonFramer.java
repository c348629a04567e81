package org.janus.qmp.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Cuts a QMP input stream into JSON texts, one per message, without parsing them: QMP is a stream of JSON values,
 * not of lines (QEMU's own Python client, qemu.qmp, sends each command with no newline after it), so a message ends
 * where its outermost object or array closes, and whitespace between messages is skipped. Strings are followed so
 * that braces inside them do not count. Bounded: a message longer than {@code maxBytes} or nested deeper than
 * {@code maxDepth} is a {@link Overflow}, after which the stream cannot be trusted and the connection is closed.
 *
 * <p>A bare scalar at the top level ({@code 42}, {@code nonsense}) is a message of its own that ends at whitespace or
 * a structural character; the session refuses it as not an object.
 *
 * <p>A control character anywhere (other than tab, CR and LF) or a 0xFF byte is a lexical error, which the
 * QMP specification names as the way a client forces the server's parser back into a known-good state: the message
 * read so far is dropped and reported as {@link Piece.Garbage}.
 */
final class JsonFramer {
    /** What the stream was cut into. */
    sealed interface Piece {
        /** One complete JSON text (not yet parsed: it may still be malformed, e.g. {@code {"a" 1}}). */
        record Message(String json) implements Piece {}

        /** A lexical error dropped what was read of the current message. */
        record Garbage(String why) implements Piece {}
    }

    /** The input broke a bound; nothing more can be read from it. */
    static final class Overflow extends Exception {
        private static final long serialVersionUID = 1L;

        Overflow(String message) { super(message); }
    }

    private final int maxBytes;
    private final int maxDepth;
    private final ByteArrayOutputStream current = new ByteArrayOutputStream(256);
    private int depth;
    private boolean inString;
    private boolean escape;
    /** A bare scalar at the top level ({@code 42}, {@code true}): ends at whitespace or a structural character. */
    private boolean inScalar;

    JsonFramer(int maxBytes, int maxDepth) {
        this.maxBytes = maxBytes;
        this.maxDepth = maxDepth;
    }

    /** Whether part of a message has been read and not yet completed. */
    boolean pending() { return current.size() > 0; }

    /** Feeds bytes; each complete message or lexical error goes to {@code out} in order. */
    void feed(byte[] bytes, int offset, int length, Consumer<Piece> out) throws Overflow {
        for (int i = offset; i < offset + length; i++) feed(bytes[i], out);
    }

    private void feed(byte b, Consumer<Piece> out) throws Overflow {
        int c = b & 0xff;
        if (c == 0xff || (c < 0x20 && c != '\t' && c != '\r' && c != '\n')) {
            boolean had = pending();
            reset();
            out.accept(new Piece.Garbage("JSON parse error, invalid character 0x" + Integer.toHexString(c)
                    + (had ? " (the message read so far was dropped)" : "")));
            return;
        }
        if (inString) {
            append(b);
            if (escape) escape = false;
            else if (c == '\\') escape = true;
            else if (c == '"') {
                inString = false;
                if (depth == 0) emit(out);
            }
            return;
        }
        boolean space = c == ' ' || c == '\t' || c == '\r' || c == '\n';
        boolean structural = c == '{' || c == '[' || c == '}' || c == ']' || c == '"';
        if (inScalar && (space || structural)) {
            emit(out);
        }
        if (space) {
            if (pending()) append(b);
            return;
        }
        append(b);
        switch (c) {
            case '"' -> inString = true;
            case '{', '[' -> {
                if (++depth > maxDepth) throw new Overflow("JSON nested deeper than " + maxDepth + " levels");
            }
            case '}', ']' -> {
                depth--;
                if (depth <= 0) emit(out);
            }
            default -> {
                if (depth == 0) inScalar = true;
            }
        }
    }

    private void append(byte b) throws Overflow {
        if (current.size() >= maxBytes) throw new Overflow("a QMP message longer than " + maxBytes + " bytes");
        current.write(b);
    }

    private void emit(Consumer<Piece> out) {
        String json = current.toString(StandardCharsets.UTF_8);
        reset();
        out.accept(new Piece.Message(json));
    }

    private void reset() {
        current.reset();
        depth = 0;
        inString = false;
        escape = false;
        inScalar = false;
    }
}
