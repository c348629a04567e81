package org.janus.devices;

/**
 * One interrupt request line from a device to the interrupt controller. The device sets the level it drives; the
 * machine implements it, on x86 with an in-kernel irqchip as {@code level -> vm.irqLine(gsi, level)}. ISA lines are
 * edge-triggered at the PIC: an interrupt is taken when the line rises, so a device that wants attention again while
 * its line is high lowers and raises it.
 * <p>Devices call it while holding their own lock, so that the levels reach the controller in the order the device
 * changed them; an implementation must not call back into the device.
 */
@FunctionalInterface
public interface InterruptLine {
    void set(boolean level);

    /** A line connected to nothing. */
    InterruptLine NONE = level -> { };
}
