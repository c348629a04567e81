package org.janus.devices;

import java.util.Objects;

/**
 * The guest's power-off: a write to this port ends the VM with the value written as its exit code. Janus puts it at
 * {@value #PORT}, where QEMU's {@code isa-debug-exit} sits with {@code iobase=0xf4} (its own default is 0x501), so a
 * guest's init powers off the same way under both: one {@code outb} (from Linux userspace through /dev/port). QEMU
 * then exits with {@code (code << 1) | 1}; Janus hands the code itself to {@link PowerOff#onPowerOff(int)}.
 *
 * <p>It exists because x86 Linux has no power-off without ACPI: with no {@code pm_power_off} set,
 * {@code reboot(LINUX_REBOOT_CMD_POWER_OFF)} halts instead (kernel/reboot.c), and a vCPU halted on the in-kernel local
 * APIC waits inside KVM_RUN for an interrupt that never comes, so userspace would never hear of it.
 *
 * <p>Every write calls the callback (several vCPUs may write); reads return all ones.
 */
public final class ExitPort implements PortDevice {
    public static final int PORT = 0xf4;

    /** What the machine does when the guest writes its exit code. Called on the vCPU thread. */
    @FunctionalInterface
    public interface PowerOff {
        void onPowerOff(int code);
    }

    private final PowerOff powerOff;

    public ExitPort(PowerOff powerOff) { this.powerOff = Objects.requireNonNull(powerOff, "powerOff"); }

    @Override public long read(int offset, int size) { return PortDevice.allOnes(size); }

    /** The value written, zero-extended from its size, is the exit code. */
    @Override public void write(int offset, int size, long value) {
        powerOff.onPowerOff((int) (value & PortDevice.allOnes(Math.min(size, 4))));
    }
}
