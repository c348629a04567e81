package org.janus.machine.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.janus.devices.Cmos;
import org.janus.devices.EmptyPorts;
import org.janus.devices.ExitPort;
import org.janus.devices.I8042;
import org.janus.devices.IoBus;
import org.janus.devices.PostCode;
import org.janus.devices.Serial16550;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.machine.MachineSpec;

/**
 * The PC a directly booted Linux finds: the devices of {@code org.janus.devices} on one port I/O bus, COM1's
 * interrupt wired to the in-kernel irqchip, the console (the terminal or the log) and how the guest ends the run.
 *
 * <p>The end is decided on the vCPU thread that caused it: a write to the power-off port ends the VM with its code;
 * a reset (i8042 command 0xFE, or a triple fault) ends it as a reboot, or as a panic when the last console output
 * before it holds the kernel's panic line: the guest boots with {@code panic=-1}, so a panicking kernel resets at
 * once, and what it printed just before is the only way to tell the two apart.
 */
final class LinuxDevices implements AutoCloseable {
    /** What Linux prints when it panics (kernel/panic.c), followed by the reason. */
    static final String PANIC_LINE = "Kernel panic - not syncing";
    /** The console output kept for telling a panic from a reboot: the panic line comes right before the reset. */
    static final int TAIL = 8192;

    private final IoBus bus;
    private final Serial16550 serial;
    private final I8042 i8042;
    private final Console console;
    private final boolean stdio;
    private final PrintStream terminal;
    private final byte[] tail = new byte[TAIL];
    private long written;
    private final AtomicReference<VmEnd> end = new AtomicReference<>();
    private volatile Thread input;

    /**
     * @param console where the output is kept for the summary (in {@code log} mode all of it, bounded)
     * @param terminal where the output goes as it comes in {@code stdio} mode
     */
    LinuxDevices(KvmVm vm, String consoleMode, Console console, PrintStream terminal, System.Logger log) {
        this.console = console;
        this.stdio = MachineSpec.BootSection.STDIO.equals(consoleMode);
        this.terminal = terminal;
        this.bus = new IoBus(line -> log.log(System.Logger.Level.DEBUG, line));
        this.serial = new Serial16550(this::output, level -> {
            try {
                vm.irqLine(Serial16550.COM1_IRQ, level);
            } catch (KvmException gone) {
                // the VM is being torn down; nobody waits for the interrupt any more
            }
        });
        this.i8042 = new I8042(() -> reset("the guest pulled the i8042 reset line (command 0xFE)"));
        bus.register(Serial16550.COM1_BASE, Serial16550.PORT_COUNT, "serial (COM1)", serial);
        bus.register(I8042.DATA_PORT, 1, "i8042 data", i8042.dataPort());
        bus.register(I8042.COMMAND_PORT, 1, "i8042 command", i8042.commandPort());
        bus.register(ExitPort.PORT, 1, "power-off", new ExitPort(this::powerOff));
        bus.register(PostCode.PORT, 1, "POST code", new PostCode());
        bus.register(Cmos.BASE, Cmos.PORT_COUNT, "CMOS", new Cmos());
        EmptyPorts empty = new EmptyPorts();
        bus.register(EmptyPorts.PCI_CONFIG_BASE, EmptyPorts.PCI_CONFIG_LENGTH, "PCI configuration (none)", empty);
        for (int com : new int[] {EmptyPorts.COM2_BASE, EmptyPorts.COM3_BASE, EmptyPorts.COM4_BASE})
            bus.register(com, Serial16550.PORT_COUNT, "serial (absent)", empty);
    }

    IoBus bus() { return bus; }

    Serial16550 serial() { return serial; }

    /** Feeds the terminal's input to the UART on a thread of its own, in {@code stdio} mode. */
    void startInput(InputStream in) {
        if (!stdio) return;
        Thread t = new Thread(() -> pump(in), "janus-console-input");
        t.setDaemon(true);
        input = t;
        t.start();
    }

    /** Ctrl-D: what a terminal sends for end-of-file; the guest's tty (canonical mode) gives its reader EOF. */
    static final byte END_OF_FILE = 0x04;

    /** Copies stdin to the UART; its end becomes one Ctrl-D, so that a guest shell reading the console ends too. */
    private void pump(InputStream in) {
        byte[] buffer = new byte[256];
        try {
            int n;
            while ((n = in.read(buffer)) > 0) serial.feedInput(buffer, 0, n);
            serial.feedInput(new byte[] {END_OF_FILE}, 0, 1);
        } catch (IOException | InterruptedException e) {
            // the terminal failed or the VM ended
        }
    }

    /** One port I/O exit, through the bus; the end it caused, if it did. */
    ExitDecision io(int vcpu, VcpuExit.Io io) {
        byte[] in;
        try {
            in = bus.dispatch(io);
        } catch (IllegalArgumentException e) {
            return new ExitDecision.End(VmEnd.failed("vCPU " + vcpu + ": " + e.getMessage()));
        }
        VmEnd e = end.get();
        if (e != null) return new ExitDecision.End(e);
        return io.isOut() ? ExitDecision.RESUME : new ExitDecision.Resume(new ExitDecision.Answer.IoIn(in));
    }

    /** A triple fault: Linux's last resort when the other ways to reboot did not work. */
    ExitDecision tripleFault(int vcpu) {
        reset("vCPU " + vcpu + " shut down (KVM_EXIT_SHUTDOWN: a triple fault, the reset of last resort)");
        return new ExitDecision.End(end.get());
    }

    private void powerOff(int code) {
        end.compareAndSet(null, VmEnd.exitCode(code, "the guest powered off with exit code " + code + " (port 0x"
                + Integer.toHexString(ExitPort.PORT) + ")"));
    }

    private void reset(String how) {
        String last = tailText();
        int panic = last.lastIndexOf(PANIC_LINE);
        if (panic >= 0) {
            int eol = last.indexOf('\n', panic);
            String line = last.substring(panic, eol < 0 ? last.length() : eol).strip();
            end.compareAndSet(null, VmEnd.of(VmEnd.Kind.PANIC, "the guest kernel panicked (" + line + ") and reset: " + how));
        } else {
            end.compareAndSet(null, VmEnd.of(VmEnd.Kind.RESET, "the guest rebooted: " + how + "; Janus does not reset VMs"));
        }
    }

    private void output(byte b) {
        synchronized (tail) {
            tail[(int) (written++ % TAIL)] = b;
        }
        if (stdio) {
            // Each byte at once: a shell prompt ends without a newline, and the exit that brought it costs far more.
            terminal.write(b);
            terminal.flush();
        } else {
            console.write(0, new byte[] {b});
        }
    }

    /** Flushes what the terminal holds of an unfinished line (a shell prompt) when the guest has nothing more to say. */
    void flush() {
        if (stdio) terminal.flush();
    }

    String tailText() {
        synchronized (tail) {
            int n = (int) Math.min(written, TAIL);
            byte[] out = new byte[n];
            for (int i = 0; i < n; i++) out[i] = tail[(int) ((written - n + i) % TAIL)];
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    /** For the summary: how much the guest wrote and where it went. */
    String consoleNote() {
        synchronized (tail) {
            return stdio ? "[" + written + " bytes of serial console output, shown on the terminal as they came]\n" : "";
        }
    }

    @Override public void close() {
        Thread t = input;
        if (t != null) t.interrupt();
        flush();
    }
}
