package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The sub-command structs of KVM_MEMORY_ENCRYPT_OP for an SEV-SNP VM, as bytes (all little-endian, sizes and
 * offsets of the uAPI header), and the firmware status codes KVM passes back in kvm_sev_cmd.error.
 */
final class SnpCommands {
    /** struct kvm_sev_init: vmsa_features u64 @0, flags u32 @8, ghcb_version u16 @12, padding to 48. */
    static final int INIT_SIZE = 48;
    /** struct kvm_sev_snp_launch_start: policy u64 @0, gosvw[16] @8, flags u16 @24, padding to 64. */
    static final int START_SIZE = 64;
    /** struct kvm_sev_snp_launch_update: gfn_start @0, uaddr @8, len @16 (u64, in/out), type u8 @24, flags u16 @26. */
    static final int UPDATE_SIZE = 64;
    /**
     * struct kvm_sev_snp_launch_finish: id_block_uaddr @0, id_auth_uaddr @8, id_block_en @16, auth_key_en @17,
     * vcek_disabled @18, host_data[32] @19, flags u16 @54, padding to 88.
     */
    static final int FINISH_SIZE = 88;
    static final int ID_BLOCK_SIZE = 96;
    static final int ID_AUTH_SIZE = 4096;
    static final int HOST_DATA_SIZE = 32;

    private SnpCommands() {
    }

    static byte[] init2(long vmsaFeatures) {
        return le(INIT_SIZE).putLong(0, vmsaFeatures).array();
    }

    static byte[] launchStart(long policy) {
        return le(START_SIZE).putLong(0, policy).array();
    }

    static byte[] launchUpdate(long gfn, long uaddr, long length, SnpPageType type) {
        return le(UPDATE_SIZE).putLong(0, gfn).putLong(8, uaddr).putLong(16, length).put(24, (byte) type.code()).array();
    }

    static long updateGfn(byte[] update) { return le(update).getLong(0); }

    static long updateLength(byte[] update) { return le(update).getLong(16); }

    /**
     * @param idBlockUaddr where the ID block is in the VMM's memory, 0 without one
     * @param idAuthUaddr  where its authentication structure is
     * @param hostData     32 bytes the attestation report will carry, or null
     */
    static byte[] launchFinish(long idBlockUaddr, long idAuthUaddr, boolean authorKey, byte[] hostData) {
        ByteBuffer b = le(FINISH_SIZE);
        if (idBlockUaddr != 0) {
            b.putLong(0, idBlockUaddr).putLong(8, idAuthUaddr).put(16, (byte) 1).put(17, (byte) (authorKey ? 1 : 0));
        }
        if (hostData != null) b.put(19, hostData, 0, HOST_DATA_SIZE);
        return b.array();
    }

    /** A firmware status (SEV_RET_* of include/uapi/linux/psp-sev.h) by name, for messages. */
    static String firmwareStatus(long code) {
        String name = switch ((int) code) {
            case 0x00 -> "SUCCESS";
            case 0x01 -> "INVALID_PLATFORM_STATE";
            case 0x02 -> "INVALID_GUEST_STATE";
            case 0x03 -> "INVALID_CONFIG";
            case 0x04 -> "INVALID_LEN";
            case 0x07 -> "POLICY_FAILURE";
            case 0x09 -> "INVALID_ADDRESS";
            case 0x0A -> "BAD_SIGNATURE";
            case 0x0B -> "BAD_MEASUREMENT";
            case 0x10 -> "INVALID_GUEST";
            case 0x11 -> "INVALID_COMMAND";
            case 0x15 -> "UNSUPPORTED";
            case 0x16 -> "INVALID_PARAM";
            case 0x17 -> "RESOURCE_LIMIT";
            case 0x19 -> "INVALID_PAGE_SIZE";
            case 0x1A -> "INVALID_PAGE_STATE";
            case 0x1C -> "INVALID_PAGE_OWNER";
            default -> null;
        };
        return String.format("0x%x%s", code, name == null ? "" : " (" + name + ")");
    }

    private static ByteBuffer le(int size) { return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN); }

    private static ByteBuffer le(byte[] b) { return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN); }
}
