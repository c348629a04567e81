package org.janus.devices;

/**
 * Port {@value #PORT}, the POST diagnostic port: firmware writes its progress codes here and old code writes to it for
 * a short I/O delay. It keeps the last code and a count so the writes are neither lost nor noisy; reads return all
 * ones, as the port has no register to read on a PC.
 */
public final class PostCode implements PortDevice {
    public static final int PORT = 0x80;

    private volatile int last = -1;
    private final java.util.concurrent.atomic.AtomicLong writes = new java.util.concurrent.atomic.AtomicLong();

    @Override public long read(int offset, int size) { return PortDevice.allOnes(size); }

    @Override public void write(int offset, int size, long value) {
        last = (int) (value & 0xff);
        writes.incrementAndGet();
    }

    /** The last code written (its low byte), or -1 before the first write. */
    public int lastCode() { return last; }

    /** How many writes reached the port. */
    public long writes() { return writes.get(); }
}
