package org.janus.machine.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * The guest's console output. Bytes are gathered per vCPU and added to the output a line (at most
 * {@link #MAX_LINE} bytes) at a time, so that lines written by several vCPUs at once do not interleave mid-line.
 * Kept up to {@link #LIMIT} bytes; beyond that, only counted. A guest cannot make it hold more.
 */
final class Console {
    static final int LIMIT = 1 << 20;
    /**
     * The longest line kept apart per vCPU: a guest that never writes a newline gets its bytes added in pieces of
     * this size, so what one vCPU holds back is bounded whatever the guest does.
     */
    static final int MAX_LINE = 4096;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Map<Integer, ByteArrayOutputStream> partial = new TreeMap<>();
    private long dropped;

    synchronized void write(int vcpu, byte[] bytes) {
        ByteArrayOutputStream line = partial.computeIfAbsent(vcpu, v -> new ByteArrayOutputStream());
        for (byte b : bytes) {
            line.write(b);
            if (b == '\n' || line.size() >= MAX_LINE) flush(line);
        }
    }

    private void flush(ByteArrayOutputStream line) {
        int room = LIMIT - out.size();
        byte[] b = line.toByteArray();
        out.write(b, 0, Math.max(0, Math.min(room, b.length)));
        dropped += Math.max(0, b.length - Math.max(0, room));
        line.reset();
    }

    /** Everything written so far, unfinished lines included (each ended with a newline). */
    synchronized String text() {
        for (ByteArrayOutputStream line : partial.values()) {
            if (line.size() > 0) {
                line.write('\n');
                flush(line);
            }
        }
        String s = out.toString(StandardCharsets.UTF_8);
        return dropped == 0 ? s : s + "[" + dropped + " more bytes of console output not kept]\n";
    }
}
