package org.janus.platform.snp.measure;

/**
 * What besides firmware, vCPU count and CPU signature goes into a launch measurement.
 *
 * @param sevFeatures the SEV_FEATURES word of every initial VMSA: {@link #SNP_ACTIVE} plus the VMSA features the VM
 *                    was initialised with (KVM_SEV_INIT2 {@code vmsa_features}); KVM always adds SNP_ACTIVE for an
 *                    SNP guest
 */
public record MeasurementOptions(long sevFeatures) {
    /** SEV_FEATURES bit 0: the guest runs with SEV-SNP. */
    public static final long SNP_ACTIVE = 1L;
    /**
     * SEV_FEATURES bit 5: DebugSwap. AMD's SNP host kernels before upstream SNP support (6.6 onwards) set it on their
     * own, giving sev-snp-measure's "0x21"; under KVM_SEV_INIT2 it is set only when {@code vmsa_features} asks.
     */
    public static final long DEBUG_SWAP = 1L << 5;

    public MeasurementOptions {
        if ((sevFeatures & SNP_ACTIVE) == 0) {
            throw new IllegalArgumentException(String.format(
                    "SEV_FEATURES 0x%x lacks SNPActive (bit 0), which every SEV-SNP VMSA has", sevFeatures));
        }
    }

    /**
     * A guest that QEMU starts through KVM_SEV_INIT2 with no extra VMSA features and no kernel of its own (OVMF
     * loads it from disk): SEV_FEATURES = SNP_ACTIVE, the default of sev-snp-measure too.
     */
    public static MeasurementOptions defaults() {
        return new MeasurementOptions(SNP_ACTIVE);
    }
}
