package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.BiFunction;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimVcpu;

/**
 * One vCPU of the software KVM running pieces of guest code on demand, with the exit loop a VMM runs around it:
 * memory faults and MAP_GPA_RANGE hypercalls go to a conversion handler (the hypercall is answered with the
 * outcome's guest answer), MMIO reads return zeros, HLT ends a piece. The guest thread and the loop take turns,
 * so guest code may update test state without locks.
 */
final class GuestDriver implements AutoCloseable {
    private static final GuestProgram END = cpu -> { };

    private final SimVcpu vcpu;
    private final BlockingQueue<GuestProgram> pieces = new LinkedBlockingQueue<>();
    private final BiFunction<VcpuExit, String, ConversionOutcome> conversions;

    GuestDriver(KvmVm vm, BiFunction<VcpuExit, String, ConversionOutcome> conversions) {
        this.vcpu = (SimVcpu) vm.createVcpu(0);
        this.conversions = conversions;
        vcpu.load(cpu -> {
            for (GuestProgram p = pieces.take(); p != END; p = pieces.take()) {
                p.run(cpu);
                cpu.hlt();
            }
        });
    }

    /** Runs {@code piece} in the guest until it is done, handling every exit it raises on the way. */
    void run(GuestProgram piece, String context) {
        pieces.add(piece);
        while (true) {
            VcpuExit exit = vcpu.run();
            if (exit instanceof VcpuExit.Hlt) return;
            if (exit instanceof VcpuExit.MemoryFault f) {
                ConversionOutcome o = conversions.apply(f, context);
                // A refused implicit conversion would fault again at once: the guest could never go on.
                if (!(o instanceof ConversionOutcome.Done)) fail(context + ": the guest's access at 0x" + Long.toHexString(f.gpa())
                        + " cannot proceed: " + o);
            } else if (exit instanceof VcpuExit.Hypercall h) {
                vcpu.completeHypercall(conversions.apply(h, context).guestAnswer());
            } else if (exit instanceof VcpuExit.Mmio m) {
                if (!m.isWrite()) vcpu.completeMmio(new byte[m.len()]);
            } else if (exit instanceof VcpuExit.SystemEvent) {
                Throwable t = vcpu.guestFailure().orElse(null);
                throw new AssertionError(context + ": the guest ended: " + exit + (t != null ? ": " + t : ""), t);
            } else {
                fail(context + ": unexpected exit " + exit);
            }
        }
    }

    @Override public void close() {
        pieces.add(END);
        vcpu.close();
    }
}
