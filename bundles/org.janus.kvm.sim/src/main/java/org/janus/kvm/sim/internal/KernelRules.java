package org.janus.kvm.sim.internal;

import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimProfile;

/**
 * What a kernel profile on a given hardware answers: VM types, capabilities per scope, guest_memfd flags, which
 * attribute interface is live. Facts from kvm-uapi.md; section numbers in comments refer to it.
 */
public final class KernelRules {
    /** KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES in v8 of the in-place series (§1.3): profiles inplace, inplace-off. */
    public static final int CAP_GMEM_MEMORY_ATTRIBUTES_V8 = 250;
    /**
     * KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES as applied for 7.4 (§13; mainline 7.3 already has 250 PPC_COMPAT_CAPS and
     * 251 ARM_PMU_V3_STRICT): the 7.4 profiles.
     */
    public static final int CAP_GMEM_MEMORY_ATTRIBUTES_APPLIED = 252;
    /** KVM_EXIT_HYPERCALL_VALID_MASK: only KVM_HC_MAP_GPA_RANGE can exit to userspace (§1.6). */
    public static final long EXIT_HYPERCALL_VALID_MASK = 1L << 12;
    /** KVM_MAX_CPUID_ENTRIES. */
    static final int MAX_CPUID_ENTRIES = 256;
    /** The VMSA features this AMD host accepts in KVM_SEV_INIT2 (SVM_SEV_FEAT_DEBUG_SWAP). */
    static final long SEV_VMSA_FEATURES = 1L << 5;
    /** SVM_SEV_FEAT_SNP_ACTIVE, stripped from INIT2's vmsa_features for non-SNP VMs. */
    static final long SEV_FEAT_SNP_ACTIVE = 1L << 0;
    /** KVM_X86_XCOMP_GUEST_SUPP of a plausible host (x87, SSE, AVX, MPX-less, AVX-512). */
    static final long XCOMP_GUEST_SUPP = 0x2e7;
    /** arm64 IPA size limit the sim reports (KVM_CAP_ARM_VM_IPA_SIZE) and the default IPA size. */
    static final int ARM_MAX_IPA_BITS = 48;
    static final int ARM_DEFAULT_IPA_BITS = 40;
    /** x86 guest physical address width (kvm_mmu_max_gfn with 52-bit MAXPHYADDR). */
    static final int X86_PHYS_BITS = 52;
    static final long KVM_MEM_MAX_NR_PAGES = (1L << 31) - 1;
    /** TASK_SIZE of x86_64 with 4-level paging; userspace_addr + size beyond it fails access_ok(). */
    static final long TASK_SIZE = 0x7ffffffff000L;

    private final SimProfile profile;
    private final SimHardware hardware;

    public KernelRules(SimProfile profile, SimHardware hardware) {
        this.profile = profile;
        this.hardware = hardware;
    }

    public SimProfile profile() { return profile; }

    public SimHardware hardware() { return hardware; }

    public boolean isX86() { return hardware.isX86(); }

    /**
     * The in-place mode is active: attributes live in each guest_memfd (§4.3). On 7.4 only where the arch has private
     * memory (x86): elsewhere gmem_in_place_conversion is the constant false (kvm_host.h without
     * kvm_arch_has_private_mem).
     */
    public boolean inPlace() {
        return switch (profile) {
            case INPLACE -> true;
            case K7_4_INPLACE, K7_4_NOVMATTR -> isX86();
            default -> false;
        };
    }

    /** A kernel carrying the in-place series (mode on or off): it knows KVM_SET_MEMORY_ATTRIBUTES2 and its cap. */
    public boolean seriesKernel() { return seriesAsPostedInV8() || seriesAsApplied(); }

    /** The series as posted in v8 (profiles inplace, inplace-off). */
    public boolean seriesAsPostedInV8() { return profile == SimProfile.INPLACE || profile == SimProfile.INPLACE_OFF; }

    /** The series as applied for 7.4 (§13). */
    public boolean seriesAsApplied() {
        return profile == SimProfile.K7_4 || profile == SimProfile.K7_4_INPLACE || profile == SimProfile.K7_4_NOVMATTR;
    }

    /**
     * The number of KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES in this kernel, or -1 where it has none. Only the model
     * knows it by number; the providers answer {@link org.janus.kvm.api.KvmCap#GUEST_MEMFD_MEMORY_ATTRIBUTES} by
     * probing.
     */
    public int gmemMemoryAttributesCapNumber() {
        if (seriesAsApplied()) return CAP_GMEM_MEMORY_ATTRIBUTES_APPLIED;
        return seriesAsPostedInV8() ? CAP_GMEM_MEMORY_ATTRIBUTES_V8 : -1;
    }

    /**
     * The VM-wide KVM_SET_MEMORY_ATTRIBUTES and KVM_CAP_MEMORY_ATTRIBUTES are compiled in: x86 before the series
     * (CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES) and series kernels built with CONFIG_KVM_VM_MEMORY_ATTRIBUTES (§13), which
     * depends on x86's confidential VM options. Without it the VM ioctl falls to kvm_arch_vm_ioctl.
     */
    public boolean vmMemoryAttributesBuilt() { return isX86() && profile != SimProfile.K7_4_NOVMATTR; }

    /**
     * The value of /sys/module/kvm/parameters/gmem_in_place_conversion, or null where the file does not exist. v8
     * declared it wherever the series was built; as applied it exists only with CONFIG_KVM_VM_MEMORY_ATTRIBUTES=y,
     * where it defaults to N (§13).
     */
    public String gmemInPlaceConversionParameter() {
        return switch (profile) {
            case INPLACE -> "Y";
            case INPLACE_OFF -> "N";
            case K7_4 -> vmMemoryAttributesBuilt() ? "N" : null;
            case K7_4_INPLACE -> vmMemoryAttributesBuilt() ? "Y" : null;
            default -> null;
        };
    }

    /**
     * Whether a guest_memfd memslot is gmem-only, all its faults served from guest_memfd: with GUEST_MEMFD_FLAG_MMAP
     * (6.18), and as applied for 7.4 every guest_memfd memslot in the in-place mode (kvm_gmem_prepare_memory_region:
     * {@code gmem_in_place_conversion || kvm_gmem_supports_mmap(inode)}).
     */
    public boolean gmemOnlyMemslot(boolean gmemHasMmap) {
        return gmemHasMmap && gmemFlagsExist() || seriesAsApplied() && inPlace();
    }

    /**
     * The errno of binding a guest_memfd range that another memslot already binds: EINVAL up to 6.18 (measured on
     * 6.18.44), EEXIST on 7.x (measured on Debian's 7.3.4 in the nested environment).
     */
    public int overlappingBindingErrno() { return profile == SimProfile.K6_12 ? org.janus.kvm.api.Errno.EINVAL : org.janus.kvm.api.Errno.EEXIST; }

    /** 6.18+: GUEST_MEMFD_FLAG_MMAP / INIT_SHARED and KVM_CAP_GUEST_MEMFD_FLAGS exist (§3.4). */
    public boolean gmemFlagsExist() { return profile != SimProfile.K6_12; }

    /** KVM_CAP_VM_TYPES bitmask (x86 only; §1.2). */
    public long vmTypesMask() {
        return switch (hardware) {
            case X86 -> bit(VmType.DEFAULT) | bit(VmType.X86_SW_PROTECTED);
            case AMD_SNP -> bit(VmType.DEFAULT) | bit(VmType.X86_SW_PROTECTED) | bit(VmType.X86_SEV)
                    | bit(VmType.X86_SEV_ES) | bit(VmType.X86_SNP);
            // KVM's TDX support arrived with Linux 6.16: on 6.12 a TDX host offers what any Intel host offers.
            case INTEL_TDX -> bit(VmType.DEFAULT) | bit(VmType.X86_SW_PROTECTED) | (tdxAvailable() ? bit(VmType.X86_TDX) : 0);
            case ARM64, ARM64_PKVM -> 0;
        };
    }

    private static long bit(long type) { return 1L << type; }

    /** KVM has TDX (kvm_intel's tdx module parameter, Linux 6.16 and later) on TDX hardware. */
    public boolean tdxAvailable() { return hardware == SimHardware.INTEL_TDX && profile != SimProfile.K6_12; }

    /** Whether KVM_CREATE_VM accepts this machine type. */
    public boolean supportsVmType(long type) {
        if (isX86()) return type >= 0 && type < 64 && (vmTypesMask() & bit(type)) != 0;
        if ((type & ~(VmType.ARM_IPA_SIZE_MASK | VmType.ARM_PROTECTED)) != 0) return false;
        if ((type & VmType.ARM_PROTECTED) != 0 && hardware != SimHardware.ARM64_PKVM) return false;
        long ipa = type & VmType.ARM_IPA_SIZE_MASK;
        return ipa == 0 || (ipa >= 32 && ipa <= ARM_MAX_IPA_BITS);
    }

    /**
     * kvm_arch_has_private_mem: SW_PROTECTED, SNP and TDX on x86. SEV and SEV-ES VMs have none. On arm64 only a pKVM
     * protected VM of the in-place series has (guest_memfd-backed, {@link PkvmRules#guestMemfdPvms}); before it pVMs
     * use anonymous memory, not guest_memfd (§7).
     */
    public boolean hasPrivateMem(long type) {
        if (!isX86()) return PkvmRules.isProtected(this, type) && PkvmRules.guestMemfdPvms(this);
        return type == VmType.X86_SW_PROTECTED || type == VmType.X86_SNP || type == VmType.X86_TDX;
    }

    /** SEV-ES, SNP and TDX have protected register state: no read-only memslots, no KVM_GET_REGS of meaning. */
    public boolean hasProtectedState(long type) {
        return isX86() && (type == VmType.X86_SEV_ES || type == VmType.X86_SNP || type == VmType.X86_TDX);
    }

    /** SEV-family VM types, which accept KVM_MEMORY_ENCRYPT_OP with a kvm_sev_cmd. */
    public boolean isSevType(long type) {
        return hardware == SimHardware.AMD_SNP
                && (type == VmType.X86_SEV || type == VmType.X86_SEV_ES || type == VmType.X86_SNP);
    }

    /** Whether the guest chooses private or shared per access with a page-table bit (SNP C-bit, TDX shared bit). */
    public boolean guestChoosesAccessKind(long type) {
        return isX86() && (type == VmType.X86_SNP || type == VmType.X86_TDX);
    }

    /** Whether guest code can express an explicit access kind at all (SEV's C-bit exists but selects nothing private). */
    public boolean accessKindExpressible(long type) {
        return isX86() && (type == VmType.X86_SEV || type == VmType.X86_SEV_ES || guestChoosesAccessKind(type));
    }

    /** Whether KVM_CREATE_GUEST_MEMFD exists for this VM at all. */
    public boolean gmemIoctlExists() {
        // 6.12: CONFIG_KVM_PRIVATE_MEM is x86-only; arm64 guest_memfd arrived with 6.18 (§7).
        return isX86() || gmemFlagsExist();
    }

    /** KVM_CAP_GUEST_MEMFD: at system scope (type null) or for a VM type. */
    public boolean gmemSupported(Long type) {
        if (!gmemIoctlExists()) return false;
        if (gmemFlagsExist()) return true;
        // 6.12: "return !kvm || kvm_arch_has_private_mem(kvm)".
        return type == null || hasPrivateMem(type);
    }

    /** kvm_gmem_get_supported_flags (§3.1): MMAP always; INIT_SHARED without private memory or in the in-place mode. */
    public long gmemSupportedFlags(Long type) {
        if (!gmemFlagsExist()) return 0;
        long flags = GuestMemfdFlags.MMAP;
        if (type == null || !hasPrivateMem(type) || inPlace()) flags |= GuestMemfdFlags.INIT_SHARED;
        return flags;
    }

    /**
     * kvm_supported_mem_attributes: PRIVATE for VMs with private memory (and at system scope where the arch has
     * private memory: x86, and arm64 with guest_memfd-backed pVMs).
     */
    public long supportedMemAttributes(Long type) {
        if (type == null) return isX86() || PkvmRules.guestMemfdPvms(this) ? MemoryAttribute.PRIVATE : 0;
        return hasPrivateMem(type) ? MemoryAttribute.PRIVATE : 0;
    }

    /**
     * Whether the generic memslot check accepts KVM_MEM_READONLY for this VM (kvm_arch_has_readonly_mem). A pKVM
     * protected VM passes it and is refused with EPERM by kvm_arch_prepare_memory_region ({@link PkvmRules}).
     */
    public boolean readonlyMemslots(long type) {
        return !hasProtectedState(type);
    }

    /** KVM_CHECK_EXTENSION, at system scope ({@code type} null) or on a VM of {@code type}. */
    public int checkExtension(int cap, Long type) {
        boolean x86 = isX86();
        if (cap == gmemMemoryAttributesCapNumber()) return (int) gmemMemoryAttributes(type);
        return switch (cap) {
            case 0, 1, 3 -> 1;                                  // IRQCHIP, HLT, USER_MEMORY
            case 4, 7 -> x86 ? 1 : 0;                           // SET_TSS_ADDR, EXT_CPUID
            case 33, 37 -> x86 ? 1 : 0;                         // PIT2, SET_IDENTITY_MAP_ADDR
            case 9 -> Math.min(Runtime.getRuntime().availableProcessors(), maxVcpus()); // NR_VCPUS
            case 10 -> x86 ? 32764 : 32767;                     // NR_MEMSLOTS (KVM_USER_MEM_SLOTS)
            case 66 -> maxVcpus();                              // MAX_VCPUS
            case 128 -> maxVcpuIds();                           // MAX_VCPU_ID: the first id KVM_CREATE_VCPU refuses
            case 98, 105, 136 -> 1;                             // ENABLE_CAP_VM, CHECK_EXTENSION_VM, IMMEDIATE_EXIT
            case 101 -> x86 ? 0 : 1;                            // VM_ATTRIBUTES (arm64 VM device attributes)
            case 165 -> x86 ? 0 : ARM_MAX_IPA_BITS;             // ARM_VM_IPA_SIZE
            case 201 -> (int) (x86 ? EXIT_HYPERCALL_VALID_MASK : PkvmRules.exitHypercallMask(this)); // EXIT_HYPERCALL
            case 209 -> x86 ? 1 : 0;                            // SYS_ATTRIBUTES
            case 231 -> 1;                                      // USER_MEMORY2
            case 232 -> x86 ? 1 : 0;                            // MEMORY_FAULT_INFO
            case 233 -> (int) vmWideMemAttributes(type);       // MEMORY_ATTRIBUTES (§4.1, §4.3, §13)
            case 234 -> gmemSupported(type) ? 1 : 0;            // GUEST_MEMFD
            case 235 -> (int) vmTypesMask();                    // VM_TYPES (absent on arm64: 0)
            case 236 -> x86 ? 1 : 0;                            // PRE_FAULT_MEMORY
            case 244 -> (int) gmemSupportedFlags(type);         // GUEST_MEMFD_FLAGS (0: unknown on 6.12)
            default -> 0;
        };
    }

    /**
     * kvm_supported_vm_mem_attributes: what the VM-wide KVM_SET_MEMORY_ATTRIBUTES takes. 0 in the in-place mode (v8 and
     * as applied) and where the ioctl is not built.
     */
    public long vmWideMemAttributes(Long type) {
        if (!vmMemoryAttributesBuilt() || inPlace()) return 0;
        return supportedMemAttributes(type);
    }

    /** KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (§4.5): PRIVATE when the in-place mode is on and the VM has private memory. */
    public long gmemMemoryAttributes(Long type) {
        if (!inPlace()) return 0;
        return supportedMemAttributes(type);
    }

    public int maxVcpus() { return isX86() ? 4096 : 512; }

    /** KVM_MAX_VCPU_IDS: x86 allows sparse APIC ids, four per vCPU; arm64 one per vCPU. */
    public int maxVcpuIds() { return isX86() ? 4 * maxVcpus() : maxVcpus(); }

    /** KVM_GET_VCPU_MMAP_SIZE in pages: kvm_run, the PIO page (x86) and the coalesced MMIO ring. */
    public int vcpuMmapPages() { return isX86() ? 3 : 2; }

    /** Highest guest physical address + 1 a memslot may reach. */
    public long maxGpa(long type) {
        if (isX86()) return 1L << X86_PHYS_BITS;
        long ipa = type & VmType.ARM_IPA_SIZE_MASK;
        return 1L << (ipa == 0 ? ARM_DEFAULT_IPA_BITS : ipa);
    }

    /** A kernel release string for reports. */
    public String kernelRelease() {
        return switch (profile) {
            case K6_12 -> "6.12.0-janus-sim";
            case K7_3 -> "7.3.0-janus-sim";
            case INPLACE, INPLACE_OFF -> "7.3.0-gmem-inplace-v8-janus-sim";
            case K7_4, K7_4_INPLACE, K7_4_NOVMATTR -> "7.4.0-janus-sim";
        };
    }
}
