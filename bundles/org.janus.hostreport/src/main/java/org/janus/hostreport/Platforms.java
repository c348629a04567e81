package org.janus.hostreport;

import java.util.List;
import org.janus.kvm.api.VmType;

/** The confidential platforms the report covers, by the ids of the {@code janus.platform} service property. */
public final class Platforms {
    public static final String SEV_SNP = "sev-snp";
    public static final String TDX = "tdx";
    public static final String PKVM = "pkvm";
    public static final String SW_PROTECTED = "sw-protected";
    public static final String NONE = "none";

    /** Report order. */
    public static final List<String> ALL = List.of(SEV_SNP, TDX, PKVM, SW_PROTECTED, NONE);

    private Platforms() {}

    /** The KVM_CREATE_VM type of a platform. */
    public static long vmType(String platform) {
        return switch (platform) {
            case SEV_SNP -> VmType.X86_SNP;
            case TDX -> VmType.X86_TDX;
            case PKVM -> VmType.ARM_PROTECTED;
            case SW_PROTECTED -> VmType.X86_SW_PROTECTED;
            case NONE -> VmType.DEFAULT;
            default -> throw new IllegalArgumentException("unknown platform " + platform + "; known: " + ALL);
        };
    }

    /**
     * Whether the platform keeps guest memory private through KVM memory attributes (SNP, TDX and KVM's
     * software-protected VM do; a normal VM has no private memory, and pKVM's hypervisor protects pages itself).
     */
    public static boolean usesPrivateAttributes(String platform) {
        return switch (platform) {
            case SEV_SNP, TDX, SW_PROTECTED -> true;
            case PKVM, NONE -> false;
            default -> throw new IllegalArgumentException("unknown platform " + platform + "; known: " + ALL);
        };
    }
}
