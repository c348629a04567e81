package org.janus.machine.internal;

import java.util.Arrays;
import org.janus.kvm.api.KvmVcpu;

/** What a vCPU thread does after an exit was handled. */
sealed interface ExitDecision {

    /** Give the vCPU its answer (if any) and run it again. */
    record Resume(Answer answer) implements ExitDecision {}

    /** This vCPU has halted: its work is done. */
    record Halted() implements ExitDecision {}

    /** KVM_RUN was interrupted: look at the mailbox (pause, stop), then run again. */
    record CheckMailbox() implements ExitDecision {}

    /** The VM ends. */
    record End(VmEnd end) implements ExitDecision {}

    /** What the vCPU is told before it runs again; applied through {@link KvmVcpu}, never by changing the exit. */
    sealed interface Answer {
        void applyTo(KvmVcpu vcpu);

        record None() implements Answer {
            public void applyTo(KvmVcpu vcpu) {}
        }

        /** kvm_run.hypercall.ret: 0, or a positive errno (EINVAL, EAGAIN) passed on to the guest. */
        record HypercallRet(long ret) implements Answer {
            public void applyTo(KvmVcpu vcpu) { vcpu.completeHypercall(ret); }
        }

        /** The data of an IN. */
        record IoIn(byte[] data) implements Answer {
            public void applyTo(KvmVcpu vcpu) { vcpu.completeIo(data); }
            @Override public boolean equals(Object o) { return o instanceof IoIn i && Arrays.equals(i.data, data); }
            @Override public int hashCode() { return Arrays.hashCode(data); }
            @Override public String toString() { return "IoIn" + Arrays.toString(data); }
        }

        /** The data of an MMIO read. */
        record MmioRead(byte[] data) implements Answer {
            public void applyTo(KvmVcpu vcpu) { vcpu.completeMmio(data); }
            @Override public boolean equals(Object o) { return o instanceof MmioRead m && Arrays.equals(m.data, data); }
            @Override public int hashCode() { return Arrays.hashCode(data); }
            @Override public String toString() { return "MmioRead" + Arrays.toString(data); }
        }
    }

    Resume RESUME = new Resume(new Answer.None());
}
