package org.janus.machine.internal;

import java.util.Arrays;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.program.ProgrammableVcpu;
import org.janus.machine.GuestPorts;
import org.janus.platform.api.ConfidentialPlatform.ExitAction;

/**
 * Decides what each KVM exit means for a VM. Conversions (memory faults, MAP_GPA_RANGE) go to the VM's
 * conversion engine; port I/O and MMIO are answered here (console, exit port, 0xff for reads); halts, shutdowns
 * and system events end the vCPU or the VM; whatever else the platform decides. It only decides: the vCPU thread
 * applies the answer and acts, so tests feed it hand-made exits and check the decisions.
 */
final class ExitDispatcher {
    /** The platform's part: {@link org.janus.platform.api.ConfidentialPlatform#onExit} with the VM's context. */
    @FunctionalInterface
    interface PlatformExits {
        ExitAction onExit(KvmVcpu vcpu, VcpuExit exit);
    }

    private final VmConversions conversions;
    private final Console console;
    private final ExitCounters counters;
    private final PlatformExits platform;

    /** The port I/O bus of a Linux boot's devices, or null: then the console and exit ports are answered here. */
    private final LinuxDevices devices;

    ExitDispatcher(VmConversions conversions, Console console, ExitCounters counters, PlatformExits platform) {
        this(conversions, console, counters, platform, null);
    }

    ExitDispatcher(VmConversions conversions, Console console, ExitCounters counters, PlatformExits platform,
                   LinuxDevices devices) {
        this.conversions = conversions;
        this.console = console;
        this.counters = counters;
        this.platform = platform;
        this.devices = devices;
    }

    ExitDecision dispatch(KvmVcpu vcpu, VcpuExit exit) {
        int id = vcpu.id();
        if (exit instanceof VcpuExit.Interrupted) {
            counters.count(id, "interrupted");
            return new ExitDecision.CheckMailbox();
        }
        if (exit instanceof VcpuExit.MemoryFault f) {
            counters.count(id, "memory-fault");
            return memoryFault(id, f);
        }
        if (exit instanceof VcpuExit.Hypercall h && h.nr() == Hypercalls.KVM_HC_MAP_GPA_RANGE) {
            counters.count(id, "hypercall");
            return mapGpaRange(id, h);
        }
        if (exit instanceof VcpuExit.Io io) {
            counters.count(id, io.isOut() ? "io-out" : "io-in");
            return devices != null ? devices.io(id, io) : io(id, io);
        }
        if (exit instanceof VcpuExit.Mmio m) {
            counters.count(id, m.isWrite() ? "mmio-write" : "mmio-read");
            if (m.isWrite() && m.physAddr() == GuestPorts.CONSOLE_MMIO) console.write(id, m.data());
            if (m.isWrite()) return ExitDecision.RESUME;
            byte[] ones = new byte[m.len()];
            Arrays.fill(ones, (byte) 0xff);
            return new ExitDecision.Resume(new ExitDecision.Answer.MmioRead(ones));
        }
        if (exit instanceof VcpuExit.Hlt) {
            counters.count(id, "hlt");
            return new ExitDecision.Halted();
        }
        if (exit instanceof VcpuExit.Shutdown) {
            counters.count(id, "shutdown");
            if (devices != null) return devices.tripleFault(id);
            return end(VmEnd.Kind.TRIPLE_FAULT, "vCPU " + id + " shut down (KVM_EXIT_SHUTDOWN: triple fault or similar)");
        }
        if (exit instanceof VcpuExit.SystemEvent e) {
            counters.count(id, "system-event");
            switch (e.type()) {
                case ExitReason.SYSTEM_EVENT_SHUTDOWN -> {
                    return end(VmEnd.Kind.SHUTDOWN, "the guest shut down (system event on vCPU " + id + ")");
                }
                case ExitReason.SYSTEM_EVENT_RESET -> {
                    return end(VmEnd.Kind.RESET, "the guest asked for a reset (vCPU " + id + "); Janus does not reset VMs");
                }
                case ExitReason.SYSTEM_EVENT_CRASH -> {
                    return new ExitDecision.End(VmEnd.failed("vCPU " + id + ": the guest program crashed" + guestFailure(vcpu)));
                }
                default -> {
                    return toPlatform(vcpu, exit);
                }
            }
        }
        counters.count(id, kind(exit));
        return toPlatform(vcpu, exit);
    }

    private ExitDecision memoryFault(int id, VcpuExit.MemoryFault f) {
        String what = "vCPU " + id + ": memory fault at [0x" + Long.toHexString(f.gpa()) + ", 0x" + Long.toHexString(f.gpa() + f.size())
                + ") as " + (f.isPrivate() ? "private" : "shared");
        if (f.errno() == Errno.EHWPOISON) return new ExitDecision.End(VmEnd.failed(what + ": the page is hardware-poisoned (EHWPOISON)"));
        ConversionRequest request = ConversionRequest.fromMemoryFault(f);
        if (request instanceof ConversionRequest.Invalid invalid)
            return new ExitDecision.End(VmEnd.failed(what + ": " + invalid.reason()));
        ConversionOutcome outcome = conversions.handle(request);
        if (outcome instanceof ConversionOutcome.Done) return ExitDecision.RESUME;   // run again: the access is retried
        if (outcome instanceof ConversionOutcome.Refused r)
            return end(VmEnd.Kind.REFUSED, what + ": the conversion was refused (" + Errno.name(r.errno()) + "): " + r.reason());
        return new ExitDecision.End(VmEnd.failed(what + ": " + stop((ConversionOutcome.Stop) outcome)));
    }

    private ExitDecision mapGpaRange(int id, VcpuExit.Hypercall h) {
        ConversionOutcome outcome = conversions.handle(ConversionRequest.fromMapGpaRange(h));
        if (outcome instanceof ConversionOutcome.Stop s)
            return new ExitDecision.End(VmEnd.failed("vCPU " + id + ": MAP_GPA_RANGE(gpa=0x" + Long.toHexString(h.arg(0)) + ", pages="
                    + h.arg(1) + ", attrs=0x" + Long.toHexString(h.arg(2)) + "): " + stop(s)));
        return new ExitDecision.Resume(new ExitDecision.Answer.HypercallRet(outcome.guestAnswer()));
    }

    private static String stop(ConversionOutcome.Stop s) {
        return "memory in " + s.range() + " could not be put back after a failed conversion: " + s.cause();
    }

    private ExitDecision io(int id, VcpuExit.Io io) {
        if (!io.isOut()) {
            byte[] ones = new byte[io.size() * io.count()];
            Arrays.fill(ones, (byte) 0xff);
            return new ExitDecision.Resume(new ExitDecision.Answer.IoIn(ones));
        }
        if (io.port() == GuestPorts.CONSOLE) {
            console.write(id, io.data());
            return ExitDecision.RESUME;
        }
        if (io.port() == GuestPorts.EXIT) {
            int code = (int) io.value();
            return new ExitDecision.End(VmEnd.exitCode(code, "the guest wrote exit code " + code + " to port 0x"
                    + Integer.toHexString(GuestPorts.EXIT) + " (vCPU " + id + ")"));
        }
        return ExitDecision.RESUME;     // a write to a port nothing listens on goes nowhere, as on real hardware
    }

    private ExitDecision toPlatform(KvmVcpu vcpu, VcpuExit exit) {
        ExitAction action;
        try {
            action = platform.onExit(vcpu, exit);
        } catch (RuntimeException e) {
            return new ExitDecision.End(VmEnd.failed("vCPU " + vcpu.id() + ": the platform failed on " + exit + ": " + e.getMessage()));
        }
        return switch (action) {
            case RESUME -> ExitDecision.RESUME;
            case GUEST_TERMINATED -> end(VmEnd.Kind.TERMINATED, "the guest terminated itself (" + exit + " on vCPU " + vcpu.id() + ")");
            case UNHANDLED -> new ExitDecision.End(VmEnd.failed("vCPU " + vcpu.id() + ": exit not handled: " + exit));
        };
    }

    private static ExitDecision end(VmEnd.Kind kind, String reason) { return new ExitDecision.End(VmEnd.of(kind, reason)); }

    private static String guestFailure(KvmVcpu vcpu) {
        if (!(vcpu instanceof ProgrammableVcpu programmed)) return "";
        return programmed.guestFailure().map(t -> ": " + (t.getMessage() != null ? t.getMessage() : t.toString())).orElse("");
    }

    private static String kind(VcpuExit exit) {
        if (exit instanceof VcpuExit.Hypercall) return "hypercall";
        if (exit instanceof VcpuExit.InternalError) return "internal-error";
        if (exit instanceof VcpuExit.FailEntry) return "fail-entry";
        return "other-" + exit.reason();
    }
}
