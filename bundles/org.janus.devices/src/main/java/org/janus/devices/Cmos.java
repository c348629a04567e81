package org.janus.devices;

/**
 * The CMOS RAM and RTC registers of a PC at {@value #BASE} (index) and {@value #BASE}+1 (data): 128 bytes of RAM
 * that read as written, all zero at start, with no clock running. Linux reads the time from here at boot; zeros give
 * it no wall-clock time (it starts from the epoch, or from what kvmclock tells it). Register D reads with its
 * valid-RAM-and-time bit set, so the battery never looks dead; registers C and D are read-only, as on the MC146818.
 * Bit 7 of the index (the NMI mask on a PC) is ignored. The index port reads all ones: it is write-only.
 */
public final class Cmos implements PortDevice {
    public static final int BASE = 0x70;
    public static final int PORT_COUNT = 2;
    static final int SIZE = 128;
    static final int REG_C = 0x0c, REG_D = 0x0d;
    /** MC146818 register D bit 7: valid RAM and time. */
    static final int REG_D_VRT = 0x80;

    private final byte[] ram = new byte[SIZE];
    private int index;

    public Cmos() { ram[REG_D] = (byte) REG_D_VRT; }

    @Override public synchronized long read(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) v |= (long) readByte(offset + i) << (8 * i);
        return v;
    }

    @Override public synchronized void write(int offset, int size, long value) {
        for (int i = 0; i < size; i++) writeByte(offset + i, (int) (value >>> (8 * i)) & 0xff);
    }

    private int readByte(int offset) { return offset == 1 ? ram[index] & 0xff : 0xff; }

    private void writeByte(int offset, int value) {
        if (offset == 0) index = value & 0x7f;
        else if (offset == 1 && index != REG_C && index != REG_D) ram[index] = (byte) value;
    }
}
