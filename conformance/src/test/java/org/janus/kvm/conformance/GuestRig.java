package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.sim.SimVcpu;

/**
 * Guest RAM for the vCPU cases, laid out as QEMU does for each mode (reference §9): in the legacy mode a memfd for the
 * shared side plus a guest_memfd (flags 0) for the private side; in the in-place mode one guest_memfd created
 * MMAP|INIT_SHARED that is both the slot's userspace_addr and its guest_memfd. {@link #hostView} is what the VMM
 * sees at the slot's userspace_addr.
 */
final class GuestRig {
    /** Guest code (x86 real-mode variants) lives in slot 0, [0, 64 KiB). */
    static final long CODE_GPA = 0x1000;
    static final long LOW_SLOT_SIZE = 0x10000;
    /** Guest RAM under test: slot 1 from 64 KiB, reachable from real mode with a segment of 0x1000. */
    static final long DATA_GPA = 0x10000;
    /** Guest-to-host reports: an observed value, and the number of a step at which the host checks its side. */
    static final int PORT_VALUE = 0x5004;
    static final int PORT_STEP = 0x5000;
    /** KVM_HC_MAP_GPA_RANGE counts 4 KiB pages whatever the host page size (hypercalls.rst). */
    static final long MAP_GPA_PAGE = 4096;

    final KvmTargetTest test;
    final KvmVm vm;
    final boolean inPlace;
    final long size;
    final GuestMemfd gmem;
    /** Legacy mode only: the shared side. */
    final HostMemfd sharedSide;
    final HostMapping hostView;

    /** Memory per {@code caps}' mode: in-place where the VM reports it, else legacy. */
    GuestRig(KvmTargetTest test, KvmVm vm, VmCaps caps, long size) {
        this.test = test;
        this.vm = vm;
        this.inPlace = caps.inPlace();
        this.size = size;
        if (inPlace) {
            gmem = test.createGmem(vm, size, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED);
            sharedSide = null;
            hostView = test.map(gmem, 0, size);
        } else {
            gmem = test.createGmem(vm, size, 0);
            sharedSide = test.createMemfd(size);
            hostView = test.map(sharedSide, 0, size);
        }
        vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(1, DATA_GPA, size, hostView.address(), gmem, 0));
    }

    /**
     * What the VMM does for a conversion request (§9.1 steps 3 and 5, §9.2 step 2): legacy sets the VM attribute and
     * discards the stale side; in-place sets the guest_memfd attribute and keeps the one page.
     */
    void convert(long gpa, long length, boolean toPrivate) {
        long offset = gpa - DATA_GPA;
        long attributes = toPrivate ? MemoryAttribute.PRIVATE : 0;
        if (inPlace) {
            gmem.setMemoryAttributes2(MemoryAttributes2.of(offset, length, attributes));
        } else {
            vm.setMemoryAttributes(MemoryAttributes.of(gpa, length, attributes));
            if (toPrivate) sharedSide.punchHole(offset, length);
            else gmem.punchHole(offset, length);
        }
    }

    /** Puts real-mode x86 code at {@link #CODE_GPA} in slot 0 and points the vCPU at it. */
    static void loadRealModeCode(KvmTargetTest test, KvmVm vm, KvmVcpu vcpu, byte[] code) {
        HostMemfd low = test.createMemfd(LOW_SLOT_SIZE);
        HostMapping lowView = test.map(low, 0, LOW_SLOT_SIZE);
        lowView.write(CODE_GPA, code);
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, LOW_SLOT_SIZE, lowView.address()));
        vcpu.setSregs(vcpu.getSregs().withCs(Sregs.Segment.real(0, 0xb)));
        vcpu.setRegs(Regs.reset().withRip(CODE_GPA));
    }

    /** What the test does at each kind of exit of a guest that reports through {@link #PORT_VALUE}/{@link #PORT_STEP}. */
    interface Host {
        /** Handles a hypercall exit and returns the value for kvm_run.hypercall.ret. */
        long hypercall(VcpuExit.Hypercall exit);

        /** The guest reached step {@code step} and waits while the host checks its side. */
        void step(int step, List<Long> valuesSoFar);
    }

    /** Runs the guest to its end (HLT, or a shutdown event) and returns the values it reported. */
    static List<Long> runToEnd(KvmVcpu vcpu, Host host) {
        List<Long> values = new ArrayList<>();
        for (int exits = 0; exits < 10_000; exits++) {
            VcpuExit exit = vcpu.run();
            if (exit instanceof VcpuExit.Hypercall h) {
                vcpu.completeHypercall(host.hypercall(h));
            } else if (exit instanceof VcpuExit.Io io && io.isOut() && io.port() == PORT_VALUE) {
                values.add(io.value());
            } else if (exit instanceof VcpuExit.Io io && io.isOut() && io.port() == PORT_STEP) {
                host.step((int) io.value(), List.copyOf(values));
            } else if (exit instanceof VcpuExit.Hlt) {
                return values;
            } else if (exit instanceof VcpuExit.SystemEvent e && e.type() == ExitReason.SYSTEM_EVENT_SHUTDOWN) {
                return values;
            } else if (!(exit instanceof VcpuExit.Interrupted)) {
                fail("unexpected exit " + exit + " after values " + hex(values) + guestFailure(vcpu));
            }
        }
        return fail("the guest did not finish; values " + hex(values));
    }

    /** The exception a sim guest program ended with, for failure messages. */
    static String guestFailure(KvmVcpu vcpu) {
        if (!(vcpu instanceof SimVcpu sim)) return "";
        return sim.guestFailure().map(t -> {
            StringWriter w = new StringWriter();
            t.printStackTrace(new PrintWriter(w));
            return "; the guest failed: " + w;
        }).orElse("");
    }

    static List<String> hex(List<Long> values) {
        return values.stream().map(v -> "0x" + Long.toHexString(v)).toList();
    }
}
