package org.janus.platform.snp.internal;

/**
 * The PAGE_TYPE of an SNP_LAUNCH_UPDATE, with the number the firmware (and KVM's
 * {@code KVM_SEV_SNP_PAGE_TYPE_*}) uses for it. Only NORMAL and VMSA pages have their contents measured; for the
 * others the firmware hashes the page's type and address with a zero contents field.
 */
public enum SnpPageType {
    NORMAL(0x1, true),
    VMSA(0x2, true),
    ZERO(0x3, false),
    UNMEASURED(0x4, false),
    SECRETS(0x5, false),
    CPUID(0x6, false);

    private final int code;
    private final boolean contentsMeasured;

    SnpPageType(int code, boolean contentsMeasured) {
        this.code = code;
        this.contentsMeasured = contentsMeasured;
    }

    public int code() {
        return code;
    }

    /** Whether the PAGE_INFO CONTENTS field holds the SHA-384 of the page (else it is zero). */
    public boolean contentsMeasured() {
        return contentsMeasured;
    }
}
