package org.janus.platform.tdx.internal;

/**
 * One section of a TDVF image's metadata (TDX Virtual Firmware Design Guide, "TDVF_SECTION"): where its bytes are in
 * the image, where it goes in the guest, and how the VMM adds it to the TD.
 *
 * @param type what the section is
 * @param dataOffset where its bytes start in the image (BFV and CFV only)
 * @param rawDataSize how many bytes come from the image (0 for TD_HOB and TEMP_MEM)
 * @param gpa where it goes in the guest, 4 KiB aligned
 * @param size how many bytes of the guest it covers, 4 KiB aligned, at least {@code rawDataSize}
 * @param attributes {@link #MR_EXTEND} and {@link #PAGE_AUG} bits
 */
public record TdvfSection(Type type, long dataOffset, long rawDataSize, long gpa, long size, long attributes) {
    /** The section's contents are measured into MRTD (KVM_TDX_MEASURE_MEMORY_REGION). */
    public static final long MR_EXTEND = 1L << 0;
    /** The section is added after launch by TDH.MEM.PAGE.AUG; QEMU adds it at launch all the same. */
    public static final long PAGE_AUG = 1L << 1;

    /** The section types QEMU (and so Janus) launches; a TDVF with another type is refused. */
    public enum Type {
        /** Boot firmware volume: code, measured. */
        BFV(0),
        /** Configuration firmware volume: UEFI variables. */
        CFV(1),
        /** Where the VMM puts the TD HOB, the memory map handed to TDVF (its address goes to the vCPUs in RCX). */
        TD_HOB(2),
        /** Zeroed memory TDVF uses before it accepts memory itself. */
        TEMP_MEM(3);

        final int code;

        Type(int code) { this.code = code; }

        static Type ofCode(long code) {
            for (Type t : values()) if (t.code == code) return t;
            return null;
        }
    }

    public long pages() { return size / 4096; }

    public long end() { return gpa + size; }

    public boolean measured() { return (attributes & MR_EXTEND) != 0; }

    @Override public String toString() {
        return String.format("%s [0x%x, 0x%x)%s", type, gpa, gpa + size, measured() ? " MR_EXTEND" : "");
    }
}
