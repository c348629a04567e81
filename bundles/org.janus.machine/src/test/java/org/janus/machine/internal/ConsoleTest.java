package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The console a hostile guest writes to holds a bounded amount, whatever it writes. */
class ConsoleTest {
    @Test
    void linesFromSeveralVcpusDoNotInterleave() {
        Console c = new Console();
        c.write(0, "hello ".getBytes());
        c.write(1, "other line\n".getBytes());
        c.write(0, "world\n".getBytes());
        assertEquals("other line\nhello world\n", c.text());
    }

    @Test
    void aGuestThatNeverEndsALineIsHeldToTheBounds() throws Exception {
        Console c = new Console();
        byte[] chunk = new byte[64 << 10];
        Arrays.fill(chunk, (byte) 'x');
        // 64 MiB without a newline on each of 4 vCPUs: 256 times what the console keeps.
        for (int i = 0; i < 1024; i++) for (int v = 0; v < 4; v++) c.write(v, chunk);
        String text = c.text();
        assertTrue(text.length() <= Console.LIMIT + 200, "kept " + text.length() + " characters");
        assertTrue(text.endsWith(" more bytes of console output not kept]\n"), text.substring(text.length() - 80));
        long dropped = Long.parseLong(text.substring(text.lastIndexOf('[') + 1, text.lastIndexOf(" more")));
        assertEquals(4L * 1024 * (64 << 10) - Console.LIMIT, dropped, "everything beyond the limit is counted");
    }
}
