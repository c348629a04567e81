package org.janus.machine;

/**
 * The I/O ports through which a guest talks to the machine itself (there are no emulated devices yet).
 * Writes to {@link #CONSOLE} are the guest's console output; a write to {@link #EXIT} ends the VM with the
 * value written as the guest's exit code (0 is a normal end). Every IN reads 0xff bytes. arm64 has no ports: its
 * console is an MMIO write to {@link #CONSOLE_MMIO}, and it ends with PSCI SYSTEM_OFF.
 */
public final class GuestPorts {
    /** COM1's transmit register: each byte written is console output. */
    public static final int CONSOLE = 0x3f8;
    /**
     * The exit port: the value written is the guest's exit code. QEMU's isa-debug-exit device sits here when given
     * {@code iobase=0xf4} (its default iobase is 0x501), so the same guest powers off under both.
     */
    public static final int EXIT = 0xf4;
    /**
     * arm64: the data register of the PL011 UART where QEMU's virt board puts it (UARTDR at 0x09000000): each byte
     * written is console output. It must lie outside RAM, so that the write exits as KVM_EXIT_MMIO.
     */
    public static final long CONSOLE_MMIO = 0x0900_0000L;

    private GuestPorts() {}
}
