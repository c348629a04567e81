package org.janus.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class I8042Test {
    private final AtomicInteger resets = new AtomicInteger();
    private final IoBus bus = new IoBus(line -> { });
    private I8042 kbc;

    @BeforeEach
    void wire() {
        kbc = new I8042(resets::incrementAndGet);
        bus.register(I8042.DATA_PORT, 1, "i8042 data", kbc.dataPort());
        bus.register(I8042.COMMAND_PORT, 1, "i8042 command", kbc.commandPort());
    }

    private int status() { return (int) Exits.value(bus.dispatch(Exits.in(I8042.COMMAND_PORT, 1))); }

    private int data() { return (int) Exits.value(bus.dispatch(Exits.in(I8042.DATA_PORT, 1))); }

    private void command(int cmd) { bus.dispatch(Exits.out(I8042.COMMAND_PORT, 1, cmd)); }

    private void dataOut(int value) { bus.dispatch(Exits.out(I8042.DATA_PORT, 1, value)); }

    /** What i8042_command does: the command, its parameter, then a poll of OBF before reading the answer. */
    private int ask(int cmd) {
        command(cmd);
        assertEquals(1, status() & 0x01, "an answer is waiting after 0x" + Integer.toHexString(cmd));
        int answer = data();
        assertEquals(0, status() & 0x01, "reading it empties the output buffer");
        return answer;
    }

    @Test
    void linuxsControllerProbeGetsItsAnswers() {
        // i8042_flush(): nothing waiting, and the status is not the 0xff of an empty bus.
        assertEquals(0, status() & 0x01);
        assertEquals(0x04 | 0x10, status() & ~0x08, "system flag and unlocked, input buffer always empty");
        assertEquals(0x55, ask(0xaa), "self-test passed");
        assertEquals(0x45, ask(0x20), "the command byte firmware leaves");
        command(0x60);
        dataOut(0x74);
        assertEquals(0x74, ask(0x20));
        assertEquals(0x00, ask(0xab), "keyboard interface test");
        command(0xad);
        assertEquals(0x10, kbc.commandByte() & 0x10);
        command(0xae);
        assertEquals(0, kbc.commandByte() & 0x10);
        command(0xa7);
        assertEquals(0x20, kbc.commandByte() & 0x20);
        command(0xa8);
        assertEquals(0, kbc.commandByte() & 0x20);
        assertEquals(0, resets.get());
    }

    @Test
    void thereIsNoAuxPortAndLinuxLearnsItWithoutATimeout() {
        command(0xd3);
        dataOut(0x5a);
        int status = status();
        assertEquals(1, status & 0x01, "the loop byte is answered at once");
        assertEquals(0, status & 0x20, "as keyboard data: i8042_command's 'auxerr'");
        assertEquals(0x5a, data());
        assertEquals(0x01, ask(0xa9), "the AUX interface test reports a stuck clock line: no AUX");
    }

    @Test
    void commandFePullsTheResetLine() {
        command(0xfe);
        assertEquals(1, resets.get());
        command(0xff);
        assertEquals(1, resets.get(), "0xff pulses no line");
        command(0xfe);
        assertEquals(2, kbc.resets());
    }

    @Test
    void writingTheOutputPortWithBitZeroClearResets() {
        assertEquals(0x03, ask(0xd0));
        command(0xd1);
        dataOut(0x03);
        assertEquals(0, resets.get(), "reset line high: nothing happens");
        assertEquals(0x03, ask(0xd0));
        command(0xd1);
        dataOut(0x02);
        assertEquals(1, resets.get());
    }

    @Test
    void statusBit3TellsWhichPortWasWrittenLastAndStrayBytesAreCounted() {
        command(0x20);
        assertEquals(0x08, status() & 0x08);
        data();
        dataOut(0xf4);   // a keyboard command with no keyboard
        assertEquals(0, status() & 0x08);
        assertEquals(0, status() & 0x01, "no keyboard answers");
        command(0x12);   // unknown
        assertEquals(2, kbc.ignored());
        command(0xd2);
        dataOut(0x99);
        assertEquals(0x99, data(), "0xD2 puts a byte in the output buffer as if from the keyboard");
        assertEquals(0x99, data(), "an empty output buffer still reads its last byte");
    }
}
