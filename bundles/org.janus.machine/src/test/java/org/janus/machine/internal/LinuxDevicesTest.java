package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The devices of a Linux boot fed hand-made port I/O exits through the dispatcher, on a VM of the software KVM with
 * its in-kernel irqchip: the console, and how the guest's power-off, reboot and panic end the run.
 */
class LinuxDevicesTest {
    private SimKvm kvm;
    private KvmVm vm;
    private KvmVcpu vcpu;
    private final Console console = new Console();
    private final ByteArrayOutputStream terminal = new ByteArrayOutputStream();
    private LinuxDevices devices;
    private ExitDispatcher dispatcher;

    @BeforeEach
    void machine() {
        kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        vm = kvm.createVm(VmType.DEFAULT);
        vm.createIrqchip();
        vcpu = vm.createVcpu(0);
        devices(MachineSpec.BootSection.LOG);
    }

    private void devices(String mode) {
        devices = new LinuxDevices(vm, mode, console, new PrintStream(terminal, true, StandardCharsets.UTF_8),
                System.getLogger(LinuxDevicesTest.class.getName()));
        dispatcher = new ExitDispatcher(null, console, new ExitCounters(), (v, e) -> {
            throw new AssertionError("no exit reaches the platform here: " + e);
        }, devices);
    }

    @AfterEach
    void close() {
        devices.close();
        vcpu.close();
        vm.close();
    }

    private ExitDecision out(int port, int value) {
        return dispatcher.dispatch(vcpu, new VcpuExit.Io(ExitReason.IO_OUT, 1, port, 1, new byte[] {(byte) value}));
    }

    private ExitDecision print(String text) {
        ExitDecision last = null;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            last = out(0x3f8, b);
            assertSame(ExitDecision.RESUME, last, "a console write goes on");
        }
        return last;
    }

    private static VmEnd end(ExitDecision d) { return assertInstanceOf(ExitDecision.End.class, d).end(); }

    @Test void powerOffEndsTheRunWithTheCodeWritten() {
        print("bye\n");
        VmEnd zero = end(out(0xf4, 0));
        assertEquals(VmEnd.Kind.EXIT_PORT, zero.kind());
        assertEquals(RunSummary.Ending.OK, zero.ending());
        assertEquals("bye\n", console.text());
        devices.close();
        devices(MachineSpec.BootSection.LOG);
        VmEnd three = end(out(0xf4, 3));
        assertEquals(3, three.exitCode().getAsInt());
        assertEquals(RunSummary.Ending.FAILED, three.ending());
    }

    @Test void aResetAfterThePanicLineIsAPanic() {
        print("[    9.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n[    9.2] Rebooting in -1 seconds..\n");
        VmEnd e = end(out(0x64, 0xfe));
        assertEquals(VmEnd.Kind.PANIC, e.kind());
        assertEquals(RunSummary.Ending.PANIC, e.ending());
        assertEquals(4, e.ending().exitStatus());
        assertTrue(e.reason().contains("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100"), e.reason());
    }

    @Test void aResetWithoutItIsAReboot() {
        print("reboot: Restarting system\n");
        VmEnd e = end(out(0x64, 0xfe));
        assertEquals(VmEnd.Kind.RESET, e.kind());
        assertEquals(3, e.ending().exitStatus());
        assertTrue(e.reason().contains("i8042 reset line"), e.reason());
    }

    @Test void aTripleFaultIsAResetToo() {
        print("Kernel panic - not syncing: VFS: Unable to mount root fs\n");
        VmEnd e = end(dispatcher.dispatch(vcpu, new VcpuExit.Shutdown()));
        assertEquals(VmEnd.Kind.PANIC, e.kind());
        assertTrue(e.reason().contains("KVM_EXIT_SHUTDOWN"), e.reason());
    }

    @Test void readsAreAnsweredByTheBus() {
        // LSR of COM1: transmitter empty and idle; an absent COM port reads all ones.
        ExitDecision lsr = dispatcher.dispatch(vcpu, new VcpuExit.Io(ExitReason.IO_IN, 1, 0x3fd, 1, new byte[1]));
        byte[] answer = ((ExitDecision.Answer.IoIn) assertInstanceOf(ExitDecision.Resume.class, lsr).answer()).data();
        assertEquals(0x60, answer[0] & 0x60);
        ExitDecision com2 = dispatcher.dispatch(vcpu, new VcpuExit.Io(ExitReason.IO_IN, 1, 0x2fd, 1, new byte[1]));
        assertArrayEquals(new byte[] {(byte) 0xff}, ((ExitDecision.Answer.IoIn) ((ExitDecision.Resume) com2).answer()).data());
    }

    @Test void onStdioTheConsoleGoesToTheTerminalAndStdinToTheUart() throws Exception {
        devices.close();
        devices(MachineSpec.BootSection.STDIO);
        print("login: ");
        assertEquals("login: ", terminal.toString(StandardCharsets.UTF_8), "a prompt without a newline shows at once");
        assertEquals("[7 bytes of serial console output, shown on the terminal as they came]\n", devices.consoleNote());
        assertSame(ExitDecision.RESUME, out(0x3fa, 0x01), "the driver turns the receive FIFO on (FCR)");
        devices.startInput(new ByteArrayInputStream("ls\n".getBytes(StandardCharsets.US_ASCII)));
        // The input thread fills the receive FIFO: "ls\n" and the Ctrl-D of stdin's end.
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (devices.serial().pendingInput() < 4 && System.nanoTime() < deadline) Thread.onSpinWait();
        assertEquals(4, devices.serial().pendingInput());
        byte[] got = new byte[4];
        for (int i = 0; i < 4; i++) {
            ExitDecision d = dispatcher.dispatch(vcpu, new VcpuExit.Io(ExitReason.IO_IN, 1, 0x3f8, 1, new byte[1]));
            got[i] = ((ExitDecision.Answer.IoIn) ((ExitDecision.Resume) d).answer()).data()[0];
        }
        assertArrayEquals(new byte[] {'l', 's', '\n', LinuxDevices.END_OF_FILE}, got);
    }
}
