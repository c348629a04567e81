package org.janus.platform.snp.measure;

/** A firmware image that cannot launch, or be measured as, an SEV-SNP guest; {@link #problem()} says why. */
public final class FirmwareImageException extends Exception {
    private static final long serialVersionUID = 1L;

    /** What is wrong with the image. */
    public enum Problem {
        /** Empty, or its size is not a whole number of 4 KiB pages (the firmware measures whole pages). */
        BAD_SIZE,
        /** No OVMF footer GUID table where OVMF keeps it, 32 bytes before the end. */
        NO_GUID_TABLE,
        /** The GUID table is there but an entry's length runs outside it. */
        BAD_GUID_TABLE,
        /** No SEV metadata entry in the GUID table: this OVMF build was made without SEV-SNP support. */
        NO_SEV_METADATA,
        /** The SEV metadata is there but malformed (signature, version, bounds, section type or alignment). */
        BAD_SEV_METADATA,
        /** No SEV-ES reset block, so the application processors have no start address. */
        NO_SEV_ES_RESET_BLOCK,
        /**
         * A kernel is to be measured, but the image has no SNP_KERNEL_HASHES section or no SEV hash table entry:
         * this OVMF build cannot verify a kernel the VMM hands it (no measured direct boot).
         */
        NO_KERNEL_HASHES,
        /** The SEV hash table entry names an area too small for the table, or outside the kernel-hashes section. */
        BAD_SEV_HASH_TABLE
    }

    private final Problem problem;

    public FirmwareImageException(Problem problem, String message) {
        super(message);
        this.problem = problem;
    }

    public Problem problem() {
        return problem;
    }
}
