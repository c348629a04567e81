package org.janus.machine;

/**
 * The I/O ports through which a guest talks to the machine itself (there are no emulated devices yet).
 * Writes to {@link #CONSOLE} are the guest's console output; a write to {@link #EXIT} ends the VM with the
 * value written as the guest's exit code (0 is a normal end). Every IN reads 0xff bytes.
 */
public final class GuestPorts {
    /** COM1's transmit register: each byte written is console output. */
    public static final int CONSOLE = 0x3f8;
    /** The port QEMU's isa-debug-exit device uses by default: the value written is the guest's exit code. */
    public static final int EXIT = 0xf4;

    private GuestPorts() {}
}
