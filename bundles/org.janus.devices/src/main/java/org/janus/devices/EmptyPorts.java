package org.janus.devices;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Ports a guest is known to probe that have nothing behind them on a Janus machine: reads return all ones and writes
 * are ignored, as on an empty bus, but without the unclaimed-port log lines, so that an expected probe is quiet.
 * Examples: PCI configuration mechanism #1 at {@value #PCI_CONFIG_BASE} (an address register that does not read back
 * what was written and a data register of all ones tell Linux there is no PCI: "PCI: Fatal: No config space access
 * function found", or nothing with {@code pci=off}), and the other COM ports, whose all-ones IER tells the 8250 probe
 * there is no UART.
 */
public final class EmptyPorts implements PortDevice {
    /** CONFIG_ADDRESS (0xcf8) and CONFIG_DATA (0xcfc-0xcff). */
    public static final int PCI_CONFIG_BASE = 0xcf8;
    public static final int PCI_CONFIG_LENGTH = 8;
    /** COM2, COM3 and COM4, eight ports each. */
    public static final int COM2_BASE = 0x2f8, COM3_BASE = 0x3e8, COM4_BASE = 0x2e8;

    private final AtomicLong accesses = new AtomicLong();

    @Override public long read(int offset, int size) {
        accesses.incrementAndGet();
        return PortDevice.allOnes(size);
    }

    @Override public void write(int offset, int size, long value) { accesses.incrementAndGet(); }

    /** Reads and writes that reached these ports. */
    public long accesses() { return accesses.get(); }
}
