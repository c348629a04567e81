package org.janus.devices;

import static org.janus.devices.Serial16550.IER;
import static org.janus.devices.Serial16550.IIR_FCR;
import static org.janus.devices.Serial16550.LCR;
import static org.janus.devices.Serial16550.LSR;
import static org.janus.devices.Serial16550.MCR;
import static org.janus.devices.Serial16550.MSR;
import static org.janus.devices.Serial16550.RBR_THR;
import static org.janus.devices.Serial16550.SCR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class Serial16550Test {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final List<Boolean> levels = new ArrayList<>();
    private final Serial16550 uart = new Serial16550(out::write, levels::add);

    private int in(int reg) { return (int) uart.read(reg, 1); }

    private void out(int reg, int value) { uart.write(reg, 1, value); }

    @Test
    void linuxs8250ProbeFindsA16550aWithWorkingFifos() {
        // autoconfig(): the IER scratch test.
        out(IER, 0);
        assertEquals(0, in(IER) & 0x0f);
        out(IER, 0x0f);
        assertEquals(0x0f, in(IER) & 0x0f);
        out(IER, 0);
        // The loopback test: MCR = LOOP | OUT2 | RTS must show DCD and CTS only.
        out(MCR, 0x10 | 0x0a);
        assertEquals(0x90, in(MSR) & 0xf0);
        out(MCR, 0);
        // FIFO enabled: IIR bits 7:6 = 11, a 16550A.
        out(IIR_FCR, 0x01);
        assertEquals(3, in(IIR_FCR) >> 6);
        // autoconfig_16550a(): no EFR behind LCR 0x80 or 0xbf (offset 2 reads IIR, not 0).
        out(LCR, 0x80);
        assertTrue(in(IIR_FCR) != 0);
        out(LCR, 0xbf);
        assertTrue(in(IIR_FCR) != 0);
        // Not a National SuperIO: IIR bit 4 never follows MCR.LOOP.
        out(LCR, 0);
        int mcr = in(MCR);
        out(LCR, 0xe0);
        int status2 = in(IIR_FCR);
        assertEquals(0, (status2 ^ mcr) & 0x10);
        // Not a TI16C750: no 64-byte FIFO bit (IIR bit 5) with or without DLAB.
        out(LCR, 0);
        out(IIR_FCR, 0x21);
        assertEquals(6, in(IIR_FCR) >> 5);
        out(LCR, 0x80);
        out(IIR_FCR, 0x21);
        assertEquals(6, in(IIR_FCR) >> 5);
        // Not an XScale: IER bit 6 (UUE) does not stick.
        out(LCR, 0);
        out(IER, 0x40);
        assertEquals(0, in(IER) & 0x40);
        // serial8250_do_startup(): LSR is not 0xff; THRE and TEMT are set.
        assertEquals(0x60, in(LSR));
    }

    @Test
    void enablingTheTransmitterInterruptRaisesItEveryTimeAsTheDriversStartupTestExpects() {
        out(IER, 0x02);
        int iir1 = in(IIR_FCR);
        out(IER, 0);
        out(IER, 0x02);
        int iir2 = in(IIR_FCR);
        out(IER, 0);
        assertEquals(0x02, iir1 & 0x0f, "THRE pending at the first enable");
        assertEquals(0x02, iir2 & 0x0f, "and again after IIR cleared it (no UART_BUG_THRE)");
        assertEquals(List.of(true, false, true, false), levels, "the line rose and fell with each");
    }

    @Test
    void eachTransmittedByteReachesTheOutputAndRetriggersTheEmptyInterrupt() {
        out(IER, 0x02);
        assertEquals(List.of(true), levels);
        for (byte b : "hi\n".getBytes()) out(RBR_THR, b);
        assertEquals("hi\n", out.toString());
        assertEquals(3, uart.transmitted());
        // Each write empties the THR-empty condition and sets it again: a falling and a rising edge per byte.
        assertEquals(List.of(true, false, true, false, true, false, true), levels);
        assertEquals(0x02, in(IIR_FCR) & 0x0f);
        assertEquals(0x01, in(IIR_FCR) & 0x0f, "reading IIR cleared it");
        assertFalse(uart.interruptLevel());
        assertEquals(0x60, in(LSR) & 0x60, "THRE and TEMT at once: transmission is immediate");
    }

    @Test
    void inputFillsTheFifoRaisesDataReadyAndIsReadInOrder() {
        out(IIR_FCR, 0x07);
        out(IER, 0x01);
        byte[] typed = "0123456789abcdefXYZ".getBytes();
        assertEquals(16, uart.offerInput(typed, 0, typed.length), "the FIFO takes 16");
        assertEquals(0, uart.offerInput(typed, 16, 3), "and no more until the guest reads");
        assertTrue(uart.interruptLevel());
        assertEquals(0x04, in(IIR_FCR) & 0x0f);
        StringBuilder got = new StringBuilder();
        while ((in(LSR) & 0x01) != 0) got.append((char) in(RBR_THR));
        assertEquals("0123456789abcdef", got.toString());
        assertFalse(uart.interruptLevel());
        assertEquals(0x01, in(IIR_FCR) & 0x0f);
    }

    @Test
    void withoutTheFifoTheReceiverHoldsOneByte() {
        byte[] two = {'a', 'b'};
        assertEquals(1, uart.offerInput(two, 0, 2));
        assertEquals('a', in(RBR_THR));
        assertEquals(1, uart.offerInput(two, 1, 1));
        out(IIR_FCR, 0x01);
        assertEquals(0, uart.pendingInput(), "enabling the FIFO empties it");
    }

    @Test
    void feedInputWaitsForTheGuestToMakeRoom() {
        out(IIR_FCR, 0x01);
        byte[] text = new byte[1000];
        new Random(3).nextBytes(text);
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            CompletableFuture<Void> feeder = CompletableFuture.runAsync(() -> {
                try {
                    uart.feedInput(text, 0, text.length);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            while (got.size() < text.length) {
                assertTrue(uart.pendingInput() <= Serial16550.FIFO_SIZE);
                if ((in(LSR) & 0x01) != 0) got.write(in(RBR_THR));
                else Thread.onSpinWait();
            }
            feeder.join();
            assertEquals(java.util.HexFormat.of().formatHex(text), java.util.HexFormat.of().formatHex(got.toByteArray()));
        });
    }

    @Test
    void aGuestWritingEndlesslyInLoopbackWithoutReadingKeepsSixteenBytesAndCountsTheRest() {
        out(IIR_FCR, 0x01);
        out(MCR, 0x10);
        out(IER, 0x04);
        for (int i = 0; i < 1_000_000; i++) out(RBR_THR, i);
        assertEquals(Serial16550.FIFO_SIZE, uart.pendingInput());
        assertEquals(1_000_000 - Serial16550.FIFO_SIZE, uart.overruns());
        assertEquals(0, out.size(), "loopback sends nothing out");
        assertEquals(0x06, in(IIR_FCR) & 0x0f, "receiver line status: overrun");
        assertEquals(0x63, in(LSR), "DR, OE, THRE, TEMT");
        assertEquals(0x61, in(LSR), "OE clears on read");
        assertEquals(0, uart.offerInput(new byte[] {1}, 0, 1), "the host's input is held off in loopback");
        assertEquals(0, in(RBR_THR) & 0xff, "the first byte looped back");
        // And without loopback, a million bytes go out and nothing stays behind.
        out(MCR, 0);
        for (int i = 0; i < 1_000_000; i++) out(RBR_THR, 'x');
        assertEquals(1_000_000, out.size());
        assertEquals(Serial16550.FIFO_SIZE - 1, uart.pendingInput());
    }

    @Test
    void theDivisorLatchSitsBehindDlab() {
        out(LCR, 0x83);
        uart.write(RBR_THR, 2, 0x0001);
        assertEquals(1, uart.divisor());
        assertEquals(0x0001, uart.read(RBR_THR, 2));
        out(LCR, 0x03);
        out(IER, 0x05);
        assertEquals(0x05, in(IER));
        out(LCR, 0x83);
        assertEquals(0, in(IER), "DLM, not IER");
        out(LCR, 0x03);
        assertEquals(0x03, in(LCR));
        out(SCR, 0x5a);
        assertEquals(0x5a, in(SCR));
        assertEquals(0, out.size(), "writing the divisor sends nothing");
    }

    @Test
    void modemStatusChangesInterruptUntilMsrIsRead() {
        assertEquals(0xb0, in(MSR), "outside loopback a ready terminal: DCD, DSR, CTS");
        out(IER, 0x08);
        out(MCR, 0x10 | 0x01 | 0x04);   // loopback, DTR, OUT1: DSR and RI on; CTS and DCD drop
        assertEquals(0x00, in(IIR_FCR) & 0x0f, "modem status interrupt");
        assertEquals(0x60 | 0x01 | 0x08, in(MSR), "DSR, RI with delta CTS and delta DCD");
        assertEquals(0x01, in(IIR_FCR) & 0x0f);
        out(MCR, 0x10 | 0x01);           // OUT1 off: RI's trailing edge
        assertEquals(0x20 | 0x04, in(MSR));
    }

    @Test
    void randomRegisterTrafficKeepsTheInvariants() {
        Random random = new Random(20261202);
        for (int step = 0; step < 200_000; step++) {
            int reg = random.nextInt(8);
            if (random.nextInt(5) == 0) uart.offerInput(new byte[] {(byte) random.nextInt()}, 0, 1);
            if (random.nextBoolean()) out(reg, random.nextInt(256));
            else in(reg);
            assertTrue(uart.pendingInput() <= Serial16550.FIFO_SIZE);
            int lcr = in(LCR);
            out(LCR, lcr & 0x7f);
            int iir = (int) uart.read(IIR_FCR, 1);
            int id = iir & 0x0f;
            assertTrue(id == 0x01 || id == 0x00 || id == 0x02 || id == 0x04 || id == 0x06, "IIR 0x" + Integer.toHexString(iir));
            assertEquals(0, iir & 0x30, "IIR bits 5:4 are always clear");
            out(LCR, lcr);
            assertEquals(levels.isEmpty() ? false : levels.get(levels.size() - 1), uart.interruptLevel());
            if (levels.size() > 1) assertTrue(levels.get(levels.size() - 1) != levels.get(levels.size() - 2),
                    "the line is only set when its level changes");
            if (levels.size() > 1000) levels.subList(0, levels.size() - 2).clear();
        }
    }
}
