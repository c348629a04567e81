package org.janus.platform.snp.internal;

/**
 * One section of OVMF's SEV metadata: guest memory OVMF expects the VMM to prepare before launch
 * (OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm in edk2).
 *
 * @param gpa    where the section starts, a guest physical address (OVMF stores it as 32 bits)
 * @param length its size in bytes
 * @param kind   what the VMM must put there
 */
public record SevMetadataSection(long gpa, long length, Kind kind) {

    /** The section types OVMF declares, with the number it stores. */
    public enum Kind {
        /** Memory the SEC phase uses before it can validate pages itself: pre-validated, zero-filled. */
        SNP_SEC_MEM(1),
        /** The SNP secrets page, which the firmware fills with the VM platform communication keys. */
        SNP_SECRETS(2),
        /** The CPUID page: CPUID results the firmware checks against the host before the guest may trust them. */
        CPUID(3),
        /** The calling area of an SVSM. */
        SVSM_CAA(4),
        /** Where the VMM puts the hashes of the kernel, initrd and command line it passes to the guest. */
        SNP_KERNEL_HASHES(0x10);

        private final int code;

        Kind(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        static Kind ofCode(int code) {
            for (Kind kind : values()) {
                if (kind.code == code) {
                    return kind;
                }
            }
            return null;
        }
    }

    public long end() {
        return gpa + length;
    }

    @Override
    public String toString() {
        return String.format("%s [0x%x, 0x%x)", kind, gpa, end());
    }
}
