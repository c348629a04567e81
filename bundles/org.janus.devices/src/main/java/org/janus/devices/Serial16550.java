package org.janus.devices;

import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A 16550A UART, as Linux's 8250 driver finds and drives it: eight registers from its base (COM1 is
 * {@value #COM1_BASE}, IRQ {@value #COM1_IRQ}), a 16-byte receive FIFO, interrupts for received data, an empty
 * transmitter, line status and modem status, the divisor latch behind LCR.DLAB, and loopback (MCR bit 4), which
 * the driver's probe uses to tell a UART from an empty port.
 *
 * <p>Transmission is immediate: a byte written to THR goes to the output sink at once, so LSR always shows THRE and
 * TEMT, and a transmitter-empty interrupt follows every write while it is enabled (the line drops at the write and
 * rises again, an edge for the PIC). The receive FIFO holds at most {@value #FIFO_SIZE} bytes (one with the FIFO
 * off); input from the host waits for room ({@link #feedInput}) or is refused ({@link #offerInput}), never
 * buffered here beyond that. In loopback what the guest writes comes back to its own receiver and the host's input
 * is held off; a guest writing without reading then only sets the overrun bit. Nothing in this class grows with what
 * the guest does.
 *
 * <p>The interrupt output is a level: high while an enabled interrupt is pending (IIR bit 0 clear), as QEMU's model
 * and the 8250 driver expect; the driver's interrupt handler reads IIR until nothing is pending.
 */
public final class Serial16550 implements PortDevice {
    public static final int COM1_BASE = 0x3f8;
    public static final int COM1_IRQ = 4;
    /** Ports from the base: THR/RBR/DLL, IER/DLM, IIR/FCR, LCR, MCR, LSR, MSR, SCR. */
    public static final int PORT_COUNT = 8;
    public static final int FIFO_SIZE = 16;

    static final int RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    static final int IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04, IER_MSI = 0x08, IER_MASK = 0x0f;
    static final int IIR_NO_INT = 0x01, IIR_MSI = 0x00, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_RLSI = 0x06;
    static final int IIR_FIFO_ENABLED = 0xc0;
    static final int FCR_ENABLE_FIFO = 0x01, FCR_CLEAR_RCVR = 0x02, FCR_CLEAR_XMIT = 0x04;
    static final int LCR_DLAB = 0x80;
    static final int MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10, MCR_MASK = 0x1f;
    static final int LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40;
    static final int MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08;
    static final int MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;
    /** What the host side drives outside loopback: a terminal present and ready (CTS, DSR, DCD). */
    static final int HOST_MODEM_STATUS = MSR_CTS | MSR_DSR | MSR_DCD;

    /** Where transmitted bytes go: the console (a terminal, a log). Called on the vCPU thread, under the UART's lock. */
    @FunctionalInterface
    public interface Output {
        void write(byte b);
    }

    private final Output output;
    private final InterruptLine irq;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();

    private int ier;
    private int lcr;
    private int mcr;
    private int scr;
    private int dll = 0x0c;   // 9600 baud from the 1.8432 MHz clock, the common firmware setting
    private int dlm;
    private boolean fifoEnabled;
    private final byte[] rx = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private boolean overrun;
    private boolean thrPending;
    private int msrDeltas;
    private int modemStatus = HOST_MODEM_STATUS;
    private boolean line;
    private long transmitted;
    private long overruns;

    /**
     * @param output where the guest's output goes
     * @param irq the UART's interrupt line (IRQ {@value #COM1_IRQ} for COM1)
     */
    public Serial16550(Output output, InterruptLine irq) {
        this.output = Objects.requireNonNull(output, "output");
        this.irq = Objects.requireNonNull(irq, "irq");
    }

    @Override public long read(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) v |= (long) readByte(offset + i) << (8 * i);
        return v;
    }

    @Override public void write(int offset, int size, long value) {
        for (int i = 0; i < size; i++) writeByte(offset + i, (int) (value >>> (8 * i)) & 0xff);
    }

    private int readByte(int offset) {
        lock.lock();
        try {
            switch (offset) {
                case RBR_THR: return (lcr & LCR_DLAB) != 0 ? dll : receive();
                case IER: return (lcr & LCR_DLAB) != 0 ? dlm : ier;
                case IIR_FCR: return readIir();
                case LCR: return lcr;
                case MCR: return mcr;
                case LSR: return readLsr();
                case MSR: return readMsr();
                case SCR: return scr;
                default: return 0xff;   // a wide access reaching past the eight registers
            }
        } finally {
            lock.unlock();
        }
    }

    private void writeByte(int offset, int value) {
        lock.lock();
        try {
            switch (offset) {
                case RBR_THR -> {
                    if ((lcr & LCR_DLAB) != 0) dll = value;
                    else transmit((byte) value);
                }
                case IER -> {
                    if ((lcr & LCR_DLAB) != 0) {
                        dlm = value;
                    } else {
                        int changed = (ier ^ value) & IER_MASK;
                        ier = value & IER_MASK;
                        // Enabling the THR-empty interrupt while THR is empty raises it, even after an IIR read
                        // cleared it: the 8250 driver's start-up test and its start_tx rely on that.
                        if ((changed & IER_THRI) != 0) thrPending = (ier & IER_THRI) != 0;
                        updateLine();
                    }
                }
                case IIR_FCR -> writeFcr(value);
                case LCR -> lcr = value;
                case MCR -> {
                    mcr = value & MCR_MASK;
                    updateModemStatus();
                    updateLine();
                    room.signalAll();   // leaving loopback lets the host's input in again
                }
                case SCR -> scr = value;
                default -> { }          // LSR and MSR are read-only (writes are a factory test mode)
            }
        } finally {
            lock.unlock();
        }
    }

    private void transmit(byte b) {
        thrPending = false;
        updateLine();
        if ((mcr & MCR_LOOP) != 0) {
            push(b);
        } else {
            transmitted++;
            output.write(b);
        }
        thrPending = true;
        updateLine();
    }

    private int receive() {
        if (rxCount == 0) return 0;
        int b = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        updateLine();
        room.signalAll();
        return b;
    }

    private int readIir() {
        int id = pendingInterrupt();
        if (id == IIR_THRI) {
            thrPending = false;   // reading IIR with THRE as the source clears it
            updateLine();
        }
        return id | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
    }

    private int readLsr() {
        int lsr = LSR_THRE | LSR_TEMT | (rxCount > 0 ? LSR_DR : 0) | (overrun ? LSR_OE : 0);
        if (overrun) {
            overrun = false;
            updateLine();
        }
        return lsr;
    }

    private int readMsr() {
        int msr = modemStatus | msrDeltas;
        if (msrDeltas != 0) {
            msrDeltas = 0;
            updateLine();
        }
        return msr;
    }

    private void writeFcr(int value) {
        boolean enable = (value & FCR_ENABLE_FIFO) != 0;
        // Turning the FIFOs on or off empties them, as does the clear bit.
        if (enable != fifoEnabled || (value & FCR_CLEAR_RCVR) != 0) {
            rxHead = 0;
            rxCount = 0;
            room.signalAll();
        }
        fifoEnabled = enable;
        updateLine();
    }

    /** In loopback the outputs drive the inputs: RTS to CTS, DTR to DSR, OUT1 to RI, OUT2 to DCD. */
    private void updateModemStatus() {
        int next = HOST_MODEM_STATUS;
        if ((mcr & MCR_LOOP) != 0) {
            next = ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0) | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                    | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0) | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
        }
        int changed = next ^ modemStatus;
        if ((changed & MSR_CTS) != 0) msrDeltas |= MSR_DCTS;
        if ((changed & MSR_DSR) != 0) msrDeltas |= MSR_DDSR;
        if ((changed & MSR_DCD) != 0) msrDeltas |= MSR_DDCD;
        if ((modemStatus & MSR_RI) != 0 && (next & MSR_RI) == 0) msrDeltas |= MSR_TERI;   // trailing edge of RI
        modemStatus = next;
    }

    /** The highest-priority enabled interrupt pending, as IIR's bits 3:0. */
    private int pendingInterrupt() {
        if ((ier & IER_RLSI) != 0 && overrun) return IIR_RLSI;
        if ((ier & IER_RDI) != 0 && rxCount > 0) return IIR_RDI;
        if ((ier & IER_THRI) != 0 && thrPending) return IIR_THRI;
        if ((ier & IER_MSI) != 0 && msrDeltas != 0) return IIR_MSI;
        return IIR_NO_INT;
    }

    private void updateLine() {
        boolean level = pendingInterrupt() != IIR_NO_INT;
        if (level != line) {
            irq.set(level);     // first: if the controller refuses, the UART still knows the line unchanged
            line = level;
        }
    }

    private int capacity() { return fifoEnabled ? FIFO_SIZE : 1; }

    /** Into the receive FIFO; a full FIFO drops the byte and flags an overrun, as the hardware does. */
    private void push(byte b) {
        if (rxCount >= capacity()) {
            overrun = true;
            overruns++;
        } else {
            rx[(rxHead + rxCount) % FIFO_SIZE] = b;
            rxCount++;
        }
        updateLine();
    }

    /**
     * Input from the host (a terminal's keystrokes): takes as many of the bytes as the receive FIFO has room for and
     * raises the data-ready interrupt. Takes none in loopback, where the receiver hears only the UART itself.
     *
     * @return how many bytes were taken, from {@code off} on
     */
    public int offerInput(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        lock.lock();
        try {
            return take(data, off, len);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Input from the host, waiting for the guest to make room: returns once every byte is in the receive FIFO. Meant
     * for a thread of its own that reads stdin; it waits as long as the guest does not read (or stays in loopback).
     *
     * @throws InterruptedException when that thread is interrupted; the bytes taken until then stay taken
     */
    public void feedInput(byte[] data, int off, int len) throws InterruptedException {
        Objects.checkFromIndexSize(off, len, data.length);
        lock.lockInterruptibly();
        try {
            int done = 0;
            while (done < len) {
                int n = take(data, off + done, len - done);
                done += n;
                if (done < len) room.await();
            }
        } finally {
            lock.unlock();
        }
    }

    private int take(byte[] data, int off, int len) {
        if ((mcr & MCR_LOOP) != 0) return 0;
        int n = Math.min(len, capacity() - rxCount);
        for (int i = 0; i < n; i++) {
            rx[(rxHead + rxCount) % FIFO_SIZE] = data[off + i];
            rxCount++;
        }
        if (n > 0) updateLine();
        return Math.max(n, 0);
    }

    /** Bytes the guest has transmitted to the output (loopback excluded). */
    public long transmitted() {
        lock.lock();
        try {
            return transmitted;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes lost because the receive FIFO was full (loopback writes the guest did not read). */
    public long overruns() {
        lock.lock();
        try {
            return overruns;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes waiting in the receive FIFO. */
    public int pendingInput() {
        lock.lock();
        try {
            return rxCount;
        } finally {
            lock.unlock();
        }
    }

    /** The divisor latch (DLM:DLL): the baud rate is 115200 / divisor. */
    public int divisor() {
        lock.lock();
        try {
            return dlm << 8 | dll;
        } finally {
            lock.unlock();
        }
    }

    /** The level the UART drives on its interrupt line now. */
    public boolean interruptLevel() {
        lock.lock();
        try {
            return line;
        } finally {
            lock.unlock();
        }
    }
}
