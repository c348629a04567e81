package org.janus.platform.tdx.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The MRTD a TD will have, computed from what its launch adds: the TDX module's SHA-384 over 128-byte records (TDX
 * module ABI). Adding a page (TDH.MEM.PAGE.ADD) contributes one record, "MEM.PAGE.ADD" padded with zeros to 16 bytes
 * then the GPA as a little-endian u64, the rest zero. Measuring a page (TDH.MR.EXTEND, once per 256-byte chunk, as
 * KVM issues it right after adding the page when KVM_TDX_MEASURE_MEMORY_REGION is set) contributes "MR.EXTEND" with
 * the chunk's GPA, followed by the chunk's 256 bytes. TDH.MR.FINALIZE closes the hash.
 */
final class Mrtd {
    static final int SIZE = 48;
    private static final int PAGE = 4096;
    private static final int CHUNK = 256;
    private final MessageDigest sha;
    private long pagesAdded;
    private long pagesMeasured;

    Mrtd() {
        try {
            sha = MessageDigest.getInstance("SHA-384");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-384 is part of every Java platform", e);
        }
    }

    /** The MRTD of a TDVF launch: every section in metadata order, page by page, measured where MR_EXTEND says. */
    static byte[] of(TdvfImage image, byte[] hob) {
        Mrtd m = new Mrtd();
        for (TdvfSection s : image.sections()) m.addRegion(s.gpa(), s.type() == TdvfSection.Type.TD_HOB ? hob : image.contents(s), s.measured());
        return m.finish();
    }

    /** Pages of {@code contents} at {@code gpa} as KVM_TDX_INIT_MEM_REGION adds them. */
    void addRegion(long gpa, byte[] contents, boolean measure) {
        for (int off = 0; off < contents.length; off += PAGE) {
            long page = gpa + off;
            sha.update(record("MEM.PAGE.ADD", page));
            pagesAdded++;
            if (!measure) continue;
            for (int c = 0; c < PAGE; c += CHUNK) {
                sha.update(record("MR.EXTEND", page + c));
                sha.update(contents, off + c, CHUNK);
            }
            pagesMeasured++;
        }
    }

    long pagesAdded() { return pagesAdded; }

    long pagesMeasured() { return pagesMeasured; }

    byte[] finish() { return sha.digest(); }

    static byte[] record(String seamcall, long gpa) {
        byte[] r = new byte[128];
        byte[] name = seamcall.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(name, 0, r, 0, name.length);
        for (int i = 0; i < 8; i++) r[16 + i] = (byte) (gpa >>> (8 * i));
        return r;
    }

    static String hex(byte[] mrtd) { return HexFormat.of().formatHex(mrtd); }
}
