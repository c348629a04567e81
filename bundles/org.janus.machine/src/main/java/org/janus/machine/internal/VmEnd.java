package org.janus.machine.internal;

import java.util.OptionalInt;
import org.janus.machine.RunSummary;
import org.janus.machine.VmState;

/**
 * How a VM ended. The first end reported wins; later ones (vCPUs noticing the stop) are ignored.
 *
 * @param kind what ended it
 * @param reason a sentence for the summary
 * @param exitCode the value the guest wrote to the exit port, for {@link Kind#EXIT_PORT}
 */
record VmEnd(Kind kind, String reason, OptionalInt exitCode) {

    enum Kind {
        /** Every vCPU halted: the guest's work is done. */
        HALTED,
        /** The guest shut the machine down (KVM_SYSTEM_EVENT_SHUTDOWN; a sim guest program that returned). */
        SHUTDOWN,
        /** The guest wrote its exit code to the exit port. */
        EXIT_PORT,
        /** The guest asked for a reset, which Janus does not do: the VM stops. */
        RESET,
        /** A Linux guest panicked and reset (panic=-1): its console showed the panic line just before. */
        PANIC,
        /** KVM_EXIT_SHUTDOWN: a triple fault or similar; the vCPU cannot go on. */
        TRIPLE_FAULT,
        /** The platform reported the guest's own termination request (e.g. SEV termination). */
        TERMINATED,
        /** A conversion the guest needed to go on was refused (nothing is inconsistent; the guest cannot continue). */
        REFUSED,
        /** Stopped by the host. */
        HOST_STOP,
        /** An error the VM cannot continue after. */
        FAILED
    }

    static VmEnd of(Kind kind, String reason) { return new VmEnd(kind, reason, OptionalInt.empty()); }

    static VmEnd failed(String reason) { return of(Kind.FAILED, reason); }

    static VmEnd exitCode(int code, String reason) { return new VmEnd(Kind.EXIT_PORT, reason, OptionalInt.of(code)); }

    /** Whether the guest finished its work and said so: all halted, a shutdown, or exit code 0. */
    boolean normal() {
        return switch (kind) {
            case HALTED, SHUTDOWN -> true;
            case EXIT_PORT -> exitCode.orElse(-1) == 0;
            default -> false;
        };
    }

    /** How the run ended, in the words of the verdict: a reboot and a panic each have their own. */
    RunSummary.Ending ending() {
        return switch (kind) {
            case RESET -> RunSummary.Ending.REBOOT;
            case PANIC -> RunSummary.Ending.PANIC;
            default -> normal() ? RunSummary.Ending.OK : RunSummary.Ending.FAILED;
        };
    }

    VmState state() {
        return kind == Kind.FAILED ? new VmState.Failed(reason) : new VmState.Stopped(reason);
    }
}
