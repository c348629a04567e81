package org.janus.devices;

/**
 * A device on the {@link IoBus}: it answers reads and takes writes at offsets within the port range it was
 * registered for. The bus calls it from any vCPU thread, one access at a time per call but possibly from several
 * threads at once, so an implementation guards its own state.
 */
public interface PortDevice {

    /**
     * An IN of {@code size} bytes (1, 2 or 4) at {@code offset} from the registered base.
     *
     * @return the value read; the bus keeps its low {@code size * 8} bits
     */
    long read(int offset, int size);

    /** An OUT of the low {@code size * 8} bits of {@code value} (size 1, 2 or 4) at {@code offset} from the base. */
    void write(int offset, int size, long value);

    /** All ones in the low {@code size} bytes: what a read of a port without a device returns on a PC. */
    static long allOnes(int size) { return size >= 8 ? -1L : (1L << (size * 8)) - 1; }
}
