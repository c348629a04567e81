package org.janus.kvm.api;

/**
 * arm64 calls through the SMC Calling Convention that KVM and pKVM answer (Documentation/virt/kvm/arm/hypercalls.rst,
 * Arm DEN 0022 PSCI, Arm DEN 0028 SMCCC): function ids as the guest puts them in x0, what comes back in x0, and how
 * pKVM's share and unshare calls reach userspace as KVM_EXIT_HYPERCALL.
 *
 * <p>A guest_memfd-backed protected VM's MEM_SHARE and MEM_UNSHARE exit with {@code kvm_run.hypercall.nr} set to the
 * function <em>number</em> ({@link #KVM_FUNC_MEM_SHARE}, {@link #KVM_FUNC_MEM_UNSHARE}), not the function id, and
 * {@code args[0..2]} = x1..x3 (the IPA and two words that must be zero), once userspace has enabled them with
 * KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL, {@link #PKVM_EXIT_HYPERCALL_MASK}); {@code hypercall.ret} goes back to the
 * guest in x0. Until then the guest gets {@link #RET_INVALID_PARAMETER} without an exit. This is the arm64
 * KVM_CAP_EXIT_HYPERCALL of the pKVM guest_memfd series (Fuad Tabba, RFC v1 11/26 and 12/26, 2024-02-22); no
 * merged kernel has it yet.
 */
public final class ArmSmccc {
    /** SMCCC return values in x0. */
    public static final long RET_SUCCESS = 0;
    public static final long RET_NOT_SUPPORTED = -1;
    public static final long RET_NOT_REQUIRED = -2;
    public static final long RET_INVALID_PARAMETER = -3;

    /** PSCI CPU_OFF: the calling vCPU powers itself off; KVM handles it without an exit. */
    public static final int PSCI_CPU_OFF = 0x84000002;
    /** PSCI AFFINITY_INFO, SMC32 and SMC64: x1 = target affinity (MPIDR bits), x2 = lowest affinity level. */
    public static final int PSCI_AFFINITY_INFO = 0x84000004;
    public static final int PSCI_AFFINITY_INFO_64 = 0xC4000004;
    /** PSCI SYSTEM_OFF: KVM_EXIT_SYSTEM_EVENT of type SHUTDOWN, ndata 1, data[0] 0. */
    public static final int PSCI_SYSTEM_OFF = 0x84000008;
    /** PSCI return values. */
    public static final long PSCI_RET_SUCCESS = 0;
    public static final long PSCI_RET_NOT_SUPPORTED = -1;
    public static final long PSCI_RET_INVALID_PARAMS = -2;
    /** AFFINITY_INFO answers. */
    public static final long PSCI_AFFINITY_ON = 0;
    public static final long PSCI_AFFINITY_OFF = 1;

    /** ARM_SMCCC_KVM_FUNC_HYP_MEMINFO: x1..x3 must be zero; returns the memory protection granule in bytes. */
    public static final int KVM_HYP_MEMINFO = 0xC6000002;
    /** ARM_SMCCC_VENDOR_HYP_KVM_MEM_SHARE_FUNC_ID: share the granule at IPA x1 with the host; x2, x3 must be zero. */
    public static final int KVM_MEM_SHARE = 0xC6000003;
    /** ARM_SMCCC_VENDOR_HYP_KVM_MEM_UNSHARE_FUNC_ID: take the granule at IPA x1 back from the host; x2, x3 must be zero. */
    public static final int KVM_MEM_UNSHARE = 0xC6000004;
    /** ARM_SMCCC_KVM_FUNC_MEM_SHARE and _UNSHARE: the function numbers, which are kvm_run.hypercall.nr of their exits. */
    public static final long KVM_FUNC_MEM_SHARE = 3;
    public static final long KVM_FUNC_MEM_UNSHARE = 4;
    /** The KVM_CAP_EXIT_HYPERCALL bits of MEM_SHARE and MEM_UNSHARE (the arm64 KVM_EXIT_HYPERCALL_VALID_MASK). */
    public static final long PKVM_EXIT_HYPERCALL_MASK = (1L << KVM_FUNC_MEM_SHARE) | (1L << KVM_FUNC_MEM_UNSHARE);

    private ArmSmccc() {}

    /** The function id in hex, for messages. */
    public static String hex(int functionId) { return "0x" + Integer.toHexString(functionId); }
}
