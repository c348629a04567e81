/**
 * Emulated devices and the port I/O bus they sit on. The machine registers devices on an {@link
 * org.janus.devices.IoBus} and hands it every {@link org.janus.kvm.api.VcpuExit.Io} exit; the bus answers INs and
 * routes OUTs. Devices raise interrupts through an {@link org.janus.devices.InterruptLine} the machine implements
 * (with {@link org.janus.kvm.api.KvmVm#irqLine(int, boolean)} on an in-kernel irqchip) and report what the guest asks
 * of the machine (reset, power-off) through callbacks. Nothing here knows guest memory or platforms.
 *
 * <p>What a Linux guest on x86 finds on a Janus machine (ports the kernel emulates itself once KVM_CREATE_IRQCHIP and
 * KVM_CREATE_PIT2 ran: the PICs 0x20/0xa0, ELCR 0x4d0, the PIT 0x40-0x43 and, without PIT_SPEAKER_DUMMY, port 0x61):
 * <ul>
 * <li>{@link org.janus.devices.Serial16550} on 0x3f8-0x3ff, IRQ 4: the console ({@code console=ttyS0}).</li>
 * <li>{@link org.janus.devices.I8042} on 0x60 and 0x64: enough controller for Linux's probe, no keyboard or mouse
 * attached; command 0xFE is the reset line ({@code reboot=k}).</li>
 * <li>{@link org.janus.devices.ExitPort} on 0xf4: the guest's power-off with an exit code.</li>
 * <li>{@link org.janus.devices.PostCode} on 0x80, {@link org.janus.devices.Cmos} on 0x70-0x71 and
 * {@link org.janus.devices.EmptyPorts} for the ports Linux probes and should find empty without noise (PCI
 * configuration 0xcf8-0xcff, the other COM ports).</li>
 * </ul>
 */
@Export
@Version("1.0.0")
package org.janus.devices;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
