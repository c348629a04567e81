package org.janus.kvm.sim;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The host hardware the software KVM models: the architecture and which confidential VM types exist. */
public enum SimHardware {
    /** x86 without confidential hardware: the default and software-protected VM types. */
    X86("x86"),
    /** AMD with SEV-SNP: VM types default, sw-protected, SEV, SEV-ES and SNP; /dev/sev exists. */
    AMD_SNP("amd-snp"),
    /** Intel with TDX: VM types default, sw-protected and (from Linux 6.16, so not on profile 6.12) TDX. */
    INTEL_TDX("intel-tdx"),
    /** arm64 without pKVM: the default VM only; guest_memfd memslots need GUEST_MEMFD_FLAG_MMAP. */
    ARM64("arm64"),
    /**
     * arm64 with pKVM (kvm-arm.mode=protected): also protected VMs (KVM_VM_TYPE_ARM_PROTECTED), whose memslots are
     * fixed once they have run. On the {@code inplace} profile they are guest_memfd-backed with in-place attributes,
     * and their MEM_SHARE/MEM_UNSHARE calls exit to userspace once KVM_CAP_EXIT_HYPERCALL enables them.
     */
    ARM64_PKVM("arm64-pkvm");

    private final String id;

    SimHardware(String id) { this.id = id; }

    /** The identifier used in configuration and the {@code janus.kvm.hardware} service property. */
    public String id() { return id; }

    /** Whether this is an x86 host (else arm64). */
    public boolean isX86() { return this == X86 || this == AMD_SNP || this == INTEL_TDX; }

    /**
     * The hardware with this identifier.
     *
     * @throws IllegalArgumentException naming the valid identifiers
     */
    public static SimHardware byId(String id) {
        for (SimHardware h : values()) if (h.id.equals(id)) return h;
        throw new IllegalArgumentException("unknown hardware '" + id + "'; valid hardware: " + validIds());
    }

    /** The valid identifiers, comma separated. */
    public static String validIds() {
        return Arrays.stream(values()).map(SimHardware::id).collect(Collectors.joining(", "));
    }
}
