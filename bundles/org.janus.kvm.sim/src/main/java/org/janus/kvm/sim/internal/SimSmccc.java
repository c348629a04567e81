package org.janus.kvm.sim.internal;

import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.VcpuExit;

/**
 * The SMCCC calls an arm64 guest makes with HVC, as KVM (and pKVM's hypervisor for a protected VM) answers them: the
 * PSCI calls a guest needs to end (CPU_OFF, AFFINITY_INFO, SYSTEM_OFF, from arch/arm64/kvm/psci.c) and pKVM's memory
 * calls (HYP_MEMINFO, MEM_SHARE, MEM_UNSHARE, see {@link PkvmRules}). Every other function answers
 * {@link ArmSmccc#RET_NOT_SUPPORTED}, as kvm_smccc_call_handler does for one it does not know (the model does not
 * implement the rest of PSCI and the vendor calls: CPU_ON, PSCI_VERSION, MMIO guard, TRNG, ...).
 *
 * <p>A bad argument gets the hypervisor's answer and changes nothing: the checks come before any exit.
 */
final class SimSmccc {
    /** MPIDR_HWID_BITMASK: the affinity fields Aff3..Aff0 of an MPIDR. */
    static final long MPIDR_HWID_BITMASK = 0xff00ffffffL;

    /** What the calling vCPU does for a call that leaves the guest. Each runs on the guest thread. */
    interface Vcpu {
        /** Hands a KVM_EXIT_HYPERCALL to userspace and returns kvm_run.hypercall.ret as userspace left it. */
        long hypercallExit(VcpuExit.Hypercall exit);

        /** Hands a KVM_EXIT_SYSTEM_EVENT to userspace and waits to be run again. */
        void systemEvent(VcpuExit.SystemEvent event);

        /** Powers the vCPU off: it never runs guest code again (nothing here turns it back on). */
        void powerOff();
    }

    private final SimVm vm;
    private final Vcpu vcpu;
    private final int page;

    SimSmccc(SimVm vm, Vcpu vcpu) {
        this.vm = vm;
        this.vcpu = vcpu;
        this.page = vm.host().pageSize();
    }

    /** The x0 the guest finds after HVC #0 with {@code functionId} in w0 and {@code args} in x1... */
    long call(int functionId, long[] args) {
        return switch (functionId) {
            case ArmSmccc.PSCI_CPU_OFF -> {
                vcpu.powerOff();
                throw new IllegalStateException("a powered-off vCPU ran again");
            }
            case ArmSmccc.PSCI_AFFINITY_INFO -> affinityInfo(arg(args, 0) & 0xffffffffL, arg(args, 1) & 0xffffffffL);
            case ArmSmccc.PSCI_AFFINITY_INFO_64 -> affinityInfo(arg(args, 0), arg(args, 1));
            case ArmSmccc.PSCI_SYSTEM_OFF -> {
                // kvm_prepare_system_event: type SHUTDOWN, ndata 1, data[0] the flags (none for SYSTEM_OFF).
                vcpu.systemEvent(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[] {0}));
                vcpu.powerOff();
                throw new IllegalStateException("a vCPU ran again after SYSTEM_OFF");
            }
            case ArmSmccc.KVM_HYP_MEMINFO -> meminfo(args);
            case ArmSmccc.KVM_MEM_SHARE -> shareOrUnshare(args, true);
            case ArmSmccc.KVM_MEM_UNSHARE -> shareOrUnshare(args, false);
            default -> ArmSmccc.RET_NOT_SUPPORTED;
        };
    }

    private static long arg(long[] args, int i) { return i < args.length ? args[i] : 0; }

    /** The MPIDR affinity KVM gives vCPU {@code id} (reset_mpidr: Aff0 = id[3:0], Aff1 = id[11:4], Aff2 = id[19:12]). */
    static long mpidrAffinity(int id) {
        return (id & 0xfL) | ((long) ((id >> 4) & 0xff) << 8) | ((long) ((id >> 12) & 0xff) << 16);
    }

    /** kvm_psci_vcpu_affinity_info: ON while any matching vCPU is not stopped, else OFF. */
    private long affinityInfo(long target, long lowestLevel) {
        if ((target & ~MPIDR_HWID_BITMASK) != 0) return ArmSmccc.PSCI_RET_INVALID_PARAMS;
        if (lowestLevel < 0 || lowestLevel > 3) return ArmSmccc.PSCI_RET_INVALID_PARAMS;
        long mask = MPIDR_HWID_BITMASK & ~((1L << (lowestLevel * 8)) - 1);
        long want = target & mask;
        synchronized (vm.host().lock) {
            for (SimVcpuImpl v : vm.vcpusInCreationOrder()) {
                if ((mpidrAffinity(v.id()) & mask) == want && !v.poweredOff()) return ArmSmccc.PSCI_AFFINITY_ON;
            }
        }
        return ArmSmccc.PSCI_AFFINITY_OFF;
    }

    /** pkvm_meminfo_call: the granule of MEM_SHARE and MEM_UNSHARE, for protected VMs only. */
    private long meminfo(long[] args) {
        if (!vm.isProtectedPvm()) return ArmSmccc.RET_NOT_SUPPORTED;
        if (arg(args, 0) != 0 || arg(args, 1) != 0 || arg(args, 2) != 0) return ArmSmccc.RET_INVALID_PARAMETER;
        return page;
    }

    /**
     * MEM_SHARE or MEM_UNSHARE of the granule at IPA x1. The hypervisor refuses reserved words, an unaligned IPA, an
     * IPA that is not guest memory (no memslot with guest_memfd), and a page not in the state the call starts from
     * (sharing a shared page, unsharing a private one); then, if userspace enabled the exit, the VMM converts the
     * guest_memfd page and answers. A zero answer completes the call only if the page really changed state: pKVM
     * does not take a page back that the host can still map, nor hand over one the host has not taken.
     */
    private long shareOrUnshare(long[] args, boolean share) {
        if (!vm.isProtectedPvm()) return ArmSmccc.RET_NOT_SUPPORTED;
        long ipa = arg(args, 0);
        long reserved1 = arg(args, 1);
        long reserved2 = arg(args, 2);
        if (reserved1 != 0 || reserved2 != 0 || Math.floorMod(ipa, page) != 0) return ArmSmccc.RET_INVALID_PARAMETER;
        if (pageState(ipa) != (share ? PageState.PRIVATE : PageState.SHARED)) return ArmSmccc.RET_INVALID_PARAMETER;
        long nr = share ? ArmSmccc.KVM_FUNC_MEM_SHARE : ArmSmccc.KVM_FUNC_MEM_UNSHARE;
        if (!vm.hypercallExitEnabled(nr)) return ArmSmccc.RET_INVALID_PARAMETER;
        long ret = vcpu.hypercallExit(new VcpuExit.Hypercall(nr, new long[] {ipa, reserved1, reserved2, 0, 0, 0}, 0));
        if (ret != ArmSmccc.RET_SUCCESS) return ret;
        return pageState(ipa) == (share ? PageState.SHARED : PageState.PRIVATE) ? ArmSmccc.RET_SUCCESS : ArmSmccc.RET_INVALID_PARAMETER;
    }

    private enum PageState { PRIVATE, SHARED, NOT_GUEST_MEMORY }

    private PageState pageState(long ipa) {
        synchronized (vm.host().lock) {
            Memslot slot = vm.slotAt(ipa);
            if (slot == null || slot.gmem() == null || slot.gmem().isReleased()) return PageState.NOT_GUEST_MEMORY;
            return vm.attributePrivate(ipa, slot) ? PageState.PRIVATE : PageState.SHARED;
        }
    }
}
