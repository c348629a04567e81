package org.janus.kvm.api;

/** The machine type argument of KVM_CREATE_VM. */
public final class VmType {
    /** x86 and arm64: a normal VM. */
    public static final long DEFAULT = 0;
    /** x86: KVM's software-protected VM (private memory without hardware isolation; dev and test). */
    public static final long X86_SW_PROTECTED = 1;
    public static final long X86_SEV = 2;
    public static final long X86_SEV_ES = 3;
    public static final long X86_SNP = 4;
    public static final long X86_TDX = 5;
    /** arm64: flag for a pKVM protected VM, or'ed with the IPA size bits. */
    public static final long ARM_PROTECTED = 1L << 31;
    public static final long ARM_IPA_SIZE_MASK = 0xff;

    private VmType() {}

    /** A readable name for a VM type value. */
    public static String name(long type) {
        if ((type & ARM_PROTECTED) != 0) return "arm64-protected(ipa=" + (type & ARM_IPA_SIZE_MASK) + ")";
        return switch ((int) type) {
            case 0 -> "default";
            case 1 -> "sw-protected";
            case 2 -> "sev";
            case 3 -> "sev-es";
            case 4 -> "sev-snp";
            case 5 -> "tdx";
            default -> "type " + type;
        };
    }
}
