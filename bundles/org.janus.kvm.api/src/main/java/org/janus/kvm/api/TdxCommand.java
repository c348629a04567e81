package org.janus.kvm.api;

/**
 * struct kvm_tdx_cmd for KVM_MEMORY_ENCRYPT_OP on a TDX VM (CAPABILITIES, INIT_VM, FINALIZE_VM) or on one of its
 * vCPUs (INIT_VCPU, INIT_MEM_REGION). Sub-commands that take a struct (kvm_tdx_capabilities, kvm_tdx_init_vm,
 * kvm_tdx_init_mem_region) carry its bytes in {@code data}: the provider passes a pointer to a copy and writes the
 * kernel's updates back into the array (CAPABILITIES fills it, INIT_MEM_REGION advances it). Sub-commands whose
 * {@code data} field is a value (INIT_VCPU: the vCPU's initial RCX; FINALIZE_VM: 0) have {@code data} null and the
 * value in {@code value}.
 *
 * @param id one of the sub-command ids below (enum kvm_tdx_cmd_id)
 * @param flags the sub-command's flags, e.g. {@link #MEASURE_MEMORY_REGION}; 0 where it has none
 * @param data the sub-command struct, or null
 * @param value kvm_tdx_cmd.data when {@code data} is null
 */
public record TdxCommand(int id, int flags, byte[] data, long value) {
    public static final int CAPABILITIES = 0;
    public static final int INIT_VM = 1;
    public static final int INIT_VCPU = 2;
    public static final int INIT_MEM_REGION = 3;
    public static final int FINALIZE_VM = 4;
    /** INIT_MEM_REGION flag: also extend MRTD with the contents of each page (TDH.MR.EXTEND). */
    public static final int MEASURE_MEMORY_REGION = 1;

    /** A sub-command whose data is a pointer to {@code struct}. */
    public static TdxCommand withStruct(int id, int flags, byte[] struct) { return new TdxCommand(id, flags, struct, 0); }

    /** A sub-command whose data is the value itself. */
    public static TdxCommand withValue(int id, long value) { return new TdxCommand(id, 0, null, value); }

    /** The sub-command's name, e.g. {@code KVM_TDX_INIT_MEM_REGION}, or its number. */
    public static String name(int id) {
        return switch (id) {
            case CAPABILITIES -> "KVM_TDX_CAPABILITIES";
            case INIT_VM -> "KVM_TDX_INIT_VM";
            case INIT_VCPU -> "KVM_TDX_INIT_VCPU";
            case INIT_MEM_REGION -> "KVM_TDX_INIT_MEM_REGION";
            case FINALIZE_VM -> "KVM_TDX_FINALIZE_VM";
            default -> "TDX command " + id;
        };
    }
}
