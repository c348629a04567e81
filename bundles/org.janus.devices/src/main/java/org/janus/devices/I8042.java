package org.janus.devices;

import java.util.Objects;

/**
 * The PS/2 controller of a PC (an Intel 8042) with nothing plugged in: data port {@value #DATA_PORT}, status and command
 * port {@value #COMMAND_PORT}. It answers what Linux's i8042 driver asks while probing (the controller command byte,
 * self-test, interface tests, the AUX loop) and gives the CPU reset line: command 0xFE, or an output-port write with
 * bit 0 clear, calls {@link Reset#onReset()}. That is how Linux reboots without ACPI ({@code reboot=k}); if the line
 * does nothing it falls back to a triple fault, which KVM reports as KVM_EXIT_SHUTDOWN.
 *
 * <p>Answers are placed in the output buffer at once and read by polling (status bit 0); the controller raises no
 * interrupts, since no device behind it ever sends anything. There is no AUX (mouse) port: the AUX loop command
 * echoes its byte as keyboard data, which Linux takes as "no AUX" at once, and the AUX interface test reports its
 * clock line stuck low. Bytes sent to the keyboard go nowhere, so Linux's atkbd probe waits out its own timeouts in
 * the background; {@code i8042.nokbd i8042.noaux} skip both ports.
 *
 * <p>Register each port with its own view: {@link #dataPort()} at {@value #DATA_PORT}, {@link #commandPort()} at
 * {@value #COMMAND_PORT} (port 0x61 between them belongs to the in-kernel PIT's speaker).
 */
public final class I8042 {
    public static final int DATA_PORT = 0x60;
    public static final int COMMAND_PORT = 0x64;

    static final int STATUS_OBF = 0x01;
    static final int STATUS_SYS = 0x04;
    static final int STATUS_CMD = 0x08;
    static final int STATUS_UNLOCKED = 0x10;
    static final int CTR_KBDINT = 0x01, CTR_SYS = 0x04, CTR_KBDDIS = 0x10, CTR_AUXDIS = 0x20, CTR_XLATE = 0x40;
    /** What firmware leaves in the command byte: keyboard interrupt on, system flag, scan-code translation. */
    static final int CTR_AT_BOOT = CTR_KBDINT | CTR_SYS | CTR_XLATE;
    /** Output port: bit 0 the reset line (active low), bit 1 the A20 gate. */
    static final int OUTPUT_PORT_AT_BOOT = 0x03;

    static final int CMD_READ_CTR = 0x20, CMD_WRITE_CTR = 0x60;
    static final int CMD_AUX_DISABLE = 0xa7, CMD_AUX_ENABLE = 0xa8, CMD_AUX_TEST = 0xa9;
    static final int CMD_SELF_TEST = 0xaa, CMD_KBD_TEST = 0xab, CMD_KBD_DISABLE = 0xad, CMD_KBD_ENABLE = 0xae;
    static final int CMD_READ_OUTPUT = 0xd0, CMD_WRITE_OUTPUT = 0xd1, CMD_WRITE_KBD_BUFFER = 0xd2;
    static final int CMD_AUX_LOOP = 0xd3, CMD_WRITE_AUX = 0xd4;
    static final int CMD_PULSE_BASE = 0xf0;
    static final int SELF_TEST_PASSED = 0x55, INTERFACE_OK = 0x00, AUX_CLOCK_STUCK_LOW = 0x01;

    /** What the machine does when the guest pulls the reset line. Called on the vCPU thread, outside the lock. */
    @FunctionalInterface
    public interface Reset {
        void onReset();
    }

    private final Reset reset;
    private int ctr = CTR_AT_BOOT;
    private int outputPort = OUTPUT_PORT_AT_BOOT;
    private int outputBuffer;
    private boolean outputFull;
    /** The last write went to the command port (status bit 3). */
    private boolean lastWasCommand;
    /** A command that takes its parameter from the next write to the data port, or 0. */
    private int awaitingData;
    private long ignored;
    private long resets;

    private final PortDevice data = new PortDevice() {
        @Override public long read(int offset, int size) { return offset == 0 ? readData() : PortDevice.allOnes(size); }

        @Override public void write(int offset, int size, long value) {
            if (offset == 0) writeData((int) value & 0xff);
        }
    };

    private final PortDevice command = new PortDevice() {
        @Override public long read(int offset, int size) { return offset == 0 ? readStatus() : PortDevice.allOnes(size); }

        @Override public void write(int offset, int size, long value) {
            if (offset == 0) writeCommand((int) value & 0xff);
        }
    };

    public I8042(Reset reset) { this.reset = Objects.requireNonNull(reset, "reset"); }

    /** The view to register at {@value #DATA_PORT}. */
    public PortDevice dataPort() { return data; }

    /** The view to register at {@value #COMMAND_PORT}. */
    public PortDevice commandPort() { return command; }

    private synchronized int readStatus() {
        return (outputFull ? STATUS_OBF : 0) | ((ctr & CTR_SYS) != 0 ? STATUS_SYS : 0)
                | (lastWasCommand ? STATUS_CMD : 0) | STATUS_UNLOCKED;
    }

    /** The output buffer; empty, it still reads the last byte, as the controller's latch does. */
    private synchronized int readData() {
        outputFull = false;
        return outputBuffer;
    }

    private void writeCommand(int cmd) {
        boolean pulseReset;
        synchronized (this) {
            lastWasCommand = true;
            awaitingData = 0;
            pulseReset = false;
            switch (cmd) {
                case CMD_READ_CTR -> answer(ctr);
                case CMD_WRITE_CTR, CMD_WRITE_OUTPUT, CMD_WRITE_KBD_BUFFER, CMD_AUX_LOOP, CMD_WRITE_AUX -> awaitingData = cmd;
                case CMD_AUX_DISABLE -> ctr |= CTR_AUXDIS;
                case CMD_AUX_ENABLE -> ctr &= ~CTR_AUXDIS;
                case CMD_AUX_TEST -> answer(AUX_CLOCK_STUCK_LOW);
                case CMD_SELF_TEST -> answer(SELF_TEST_PASSED);
                case CMD_KBD_TEST -> answer(INTERFACE_OK);
                case CMD_KBD_DISABLE -> ctr |= CTR_KBDDIS;
                case CMD_KBD_ENABLE -> ctr &= ~CTR_KBDDIS;
                case CMD_READ_OUTPUT -> answer(outputPort);
                default -> {
                    if (cmd >= CMD_PULSE_BASE) {
                        // 0xF0-0xFF pulse the output-port bits whose mask bit is 0; bit 0 is the reset line.
                        pulseReset = (cmd & 0x01) == 0;
                    } else {
                        ignored++;
                    }
                }
            }
            if (pulseReset) resets++;
        }
        if (pulseReset) reset.onReset();
    }

    private void writeData(int value) {
        boolean pullReset = false;
        synchronized (this) {
            lastWasCommand = false;
            int cmd = awaitingData;
            awaitingData = 0;
            switch (cmd) {
                case CMD_WRITE_CTR -> ctr = value;
                case CMD_WRITE_OUTPUT -> {
                    outputPort = value;
                    pullReset = (value & 0x01) == 0;
                }
                case CMD_WRITE_KBD_BUFFER, CMD_AUX_LOOP -> answer(value);
                default -> ignored++;   // CMD_WRITE_AUX and plain keyboard bytes: no device to take them
            }
            if (pullReset) resets++;
        }
        if (pullReset) reset.onReset();
    }

    private void answer(int value) {
        outputBuffer = value & 0xff;
        outputFull = true;
    }

    /** The controller command byte. */
    public synchronized int commandByte() { return ctr; }

    /** How many times the guest pulled the reset line. */
    public synchronized long resets() { return resets; }

    /** Commands the controller does not know and bytes for the absent keyboard or mouse. */
    public synchronized long ignored() { return ignored; }
}
