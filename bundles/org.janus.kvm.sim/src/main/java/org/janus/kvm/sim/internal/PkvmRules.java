package org.janus.kvm.sim.internal;

import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.MemslotFlags;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimProfile;

/**
 * What pKVM (arm64 booted with {@code kvm-arm.mode=protected}) adds for its protected VMs (pVMs), on top of
 * {@link KernelRules}. Sources:
 * <ul>
 *   <li>memslots: Documentation/virt/kvm/arm/pkvm.rst ("Memslots cannot be moved or deleted once the pVM has started
 *       running. Read-only memslots and dirty logging are not supported.") and arch/arm64/kvm/mmu.c
 *       {@code kvm_arch_prepare_memory_region}, whose pKVM block answers -EPERM for a DELETE or MOVE once the
 *       hypervisor's VM exists (it is created at the first KVM_RUN of any vCPU) and for a new slot with
 *       KVM_MEM_LOG_DIRTY_PAGES or KVM_MEM_READONLY. Creating further slots stays allowed. Earlier pkvm.rst text
 *       applied these limits to every VM under pKVM; the current text and code apply them to pVMs only;</li>
 *   <li>share and unshare: Documentation/virt/kvm/arm/hypercalls.rst (MEM_SHARE, MEM_UNSHARE, HYP_MEMINFO: one
 *       granule at the IPA in x1, x2 and x3 reserved, answers SUCCESS or INVALID_PARAMETER) and the hypervisor's
 *       checks in arch/arm64/kvm/hyp/nvhe/pkvm.c (reserved words and alignment, the page's owner state) and
 *       hyp-main.c (an unshare completes only when the host has given the page up);</li>
 *   <li>their exit to userspace for a guest_memfd-backed pVM: the arm64 KVM_CAP_EXIT_HYPERCALL of Fuad Tabba's pKVM
 *       guest_memfd series (RFC v1 11/26, 12/26), see {@link ArmSmccc}. With the in-place conversion series the
 *       VMM sets the guest_memfd attribute itself (KVM_SET_MEMORY_ATTRIBUTES2), as it does for MAP_GPA_RANGE, and
 *       a kernel with the series is in-place only on arm64 (its VM-wide attributes are x86 Kconfig).</li>
 * </ul>
 */
final class PkvmRules {
    /** A memslot operation as kvm_set_memory_region classifies it (enum kvm_mr_change). */
    enum Change { CREATE, DELETE, MOVE, FLAGS_ONLY }

    private PkvmRules() {}

    /** Whether a VM of {@code type} is a pKVM protected VM: KVM_VM_TYPE_ARM_PROTECTED on pKVM hardware. */
    static boolean isProtected(KernelRules rules, long type) {
        return rules.hardware() == SimHardware.ARM64_PKVM && (type & VmType.ARM_PROTECTED) != 0;
    }

    /**
     * Whether pVMs here are backed by guest_memfd with in-place attributes (the in-place series: kvm_arch_has_private_mem
     * for a pVM) and their MEM_SHARE/MEM_UNSHARE can exit to userspace. Before the series (6.12, 7.3) pVMs use
     * anonymous memory that the hypervisor shares and unshares by itself, without telling the VMM; a series kernel
     * with the mode off ({@code inplace-off}) cannot exist on arm64, and the model treats it as one without the series.
     */
    static boolean guestMemfdPvms(KernelRules rules) {
        return rules.hardware() == SimHardware.ARM64_PKVM && rules.profile() == SimProfile.INPLACE;
    }

    /** KVM_CHECK_EXTENSION(KVM_CAP_EXIT_HYPERCALL) on arm64: MEM_SHARE and MEM_UNSHARE where they can exit. */
    static long exitHypercallMask(KernelRules rules) {
        return guestMemfdPvms(rules) ? ArmSmccc.PKVM_EXIT_HYPERCALL_MASK : 0;
    }

    /**
     * The pKVM part of kvm_arch_prepare_memory_region, which runs after the generic checks and the guest_memfd
     * binding and before arm64's own (IPA size, guest_memfd without MMAP).
     *
     * @param hypVmCreated whether any vCPU has entered KVM_RUN (pkvm_create_hyp_vm runs then)
     * @param newFlags the flags of the slot after the change (unused for DELETE)
     * @throws KvmException EPERM where pKVM forbids the change
     */
    static void checkMemslotChange(KernelRules rules, long type, boolean hypVmCreated, Change change, int newFlags) {
        if (!isProtected(rules, type)) return;
        String op = SimVm.SET_REGION2;
        if ((change == Change.DELETE || change == Change.MOVE) && hypVmCreated)
            throw new KvmException(op, Errno.EPERM, "pKVM: a protected VM's memslots cannot be "
                    + (change == Change.DELETE ? "deleted" : "moved") + " once it has run");
        int refused = MemslotFlags.LOG_DIRTY_PAGES | MemslotFlags.READONLY;
        if (change != Change.DELETE && (newFlags & refused) != 0)
            throw new KvmException(op, Errno.EPERM, "pKVM: a protected VM has no read-only memslots and no dirty logging (flags 0x"
                    + Integer.toHexString(newFlags) + ")");
    }
}
