package org.janus.kvm.api;

/**
 * struct kvm_sev_cmd for KVM_MEMORY_ENCRYPT_OP on an SEV, SEV-ES or SEV-SNP VM. {@code data} holds the bytes of
 * the sub-command struct (e.g. struct kvm_sev_snp_launch_update); the provider passes a pointer to a copy and
 * writes the kernel's updates back into the array (many sub-commands are in/out).
 */
public record SevCommand(int id, byte[] data, SevDevice sevDevice) {
    public static final int INIT2 = 22;
    public static final int SNP_LAUNCH_START = 100;
    public static final int SNP_LAUNCH_UPDATE = 101;
    public static final int SNP_LAUNCH_FINISH = 102;
}
