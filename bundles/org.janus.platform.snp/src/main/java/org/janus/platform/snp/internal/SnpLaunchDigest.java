package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

import org.janus.platform.snp.measure.LaunchDigest;

/**
 * The launch digest as the SNP firmware extends it, one 4 KiB page per step, during SNP_LAUNCH_UPDATE.
 *
 * <p>Each step hashes a PAGE_INFO structure with SHA-384 and the result becomes the new digest. The layout is the
 * one of AMD's "SEV Secure Nested Paging Firmware ABI Specification" (publication 56860), section SNP_LAUNCH_UPDATE,
 * table "Layout of the PAGE_INFO Structure" (8.17.2, Table 67, in the revision sev-snp-measure cites; the numbers
 * move between revisions). All fields little-endian:
 * <pre>
 *   0x00  DIGEST_CUR   48  the digest so far (zero at SNP_LAUNCH_START)
 *   0x30  CONTENTS     48  SHA-384 of the page for NORMAL and VMSA pages, zero for the other types
 *   0x60  LENGTH        2  0x70, the size of this structure
 *   0x62  PAGE_TYPE     1  {@link SnpPageType#code()}
 *   0x63  IMI_PAGE      1  bit 0: page of a migration agent's image (never, here)
 *   0x64  VMPL3_PERMS   1  \
 *   0x65  VMPL2_PERMS   1   } permissions given to lower VMPLs: none for a guest without an SVSM
 *   0x66  VMPL1_PERMS   1  /
 *   0x67  reserved      1
 *   0x68  GPA           8  guest physical address of the page
 * </pre>
 */
public final class SnpLaunchDigest {
    public static final int PAGE_SIZE = 4096;
    static final int PAGE_INFO_SIZE = 0x70;

    /**
     * The GPA a VMSA page is measured at. KVM gives each vCPU's VMSA this address in the RMP when it hands the page
     * to the firmware (INITIAL_VMSA_GPA in the kernel's SEV code), whatever the vCPU; sev-snp-measure uses it too.
     */
    public static final long VMSA_GPA = 0xFFFF_FFFF_F000L;

    private static final byte[] ZERO_CONTENTS = new byte[LaunchDigest.SIZE];

    private final MessageDigest sha384 = newSha384();
    private final ByteBuffer pageInfo = ByteBuffer.allocate(PAGE_INFO_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    private byte[] current;

    /** A digest as SNP_LAUNCH_START leaves it: all zero. */
    public SnpLaunchDigest() {
        this.current = new byte[LaunchDigest.SIZE];
    }

    /** Continues from a digest computed earlier, e.g. over the firmware alone. */
    public SnpLaunchDigest(LaunchDigest start) {
        this.current = start.bytes();
    }

    /** Measures pages of type NORMAL: {@code contents} (whole pages) loaded from {@code gpa} upward. */
    public void addNormalPages(long gpa, ByteBuffer contents) {
        ByteBuffer pages = contents.slice();
        requireWholePages(pages.remaining());
        byte[] page = new byte[PAGE_SIZE];
        for (long at = gpa; pages.hasRemaining(); at += PAGE_SIZE) {
            pages.get(page);
            extend(SnpPageType.NORMAL, at, sha384(page));
        }
    }

    /** Measures one vCPU's initial VMSA page, by the hash of its contents. */
    public void addVmsaPage(byte[] vmsaSha384) {
        extend(SnpPageType.VMSA, VMSA_GPA, vmsaSha384);
    }

    /** Measures pages whose contents the firmware does not hash: ZERO, UNMEASURED, SECRETS or CPUID. */
    public void addUnhashedPages(SnpPageType type, long gpa, long length) {
        if (type.contentsMeasured()) {
            throw new IllegalArgumentException(type + " pages are measured with their contents");
        }
        requireWholePages(length);
        for (long offset = 0; offset < length; offset += PAGE_SIZE) {
            extend(type, gpa + offset, ZERO_CONTENTS);
        }
    }

    public LaunchDigest digest() {
        return new LaunchDigest(current);
    }

    /** SHA-384 of a page, the CONTENTS of a NORMAL or VMSA PAGE_INFO. */
    public static byte[] sha384(byte[] page) {
        return newSha384().digest(page);
    }

    private void extend(SnpPageType type, long gpa, byte[] contents) {
        if (gpa % PAGE_SIZE != 0) {
            throw new IllegalArgumentException(String.format("GPA 0x%x is not page-aligned", gpa));
        }
        pageInfo.clear();
        pageInfo.put(current).put(contents)
                .putShort((short) PAGE_INFO_SIZE)
                .put((byte) type.code())
                .put((byte) 0)                  // IMI_PAGE
                .put((byte) 0).put((byte) 0).put((byte) 0)  // VMPL3, VMPL2, VMPL1 permissions
                .put((byte) 0)                  // reserved
                .putLong(gpa);
        current = sha384.digest(pageInfo.array());
    }

    private static void requireWholePages(long length) {
        if (length <= 0 || length % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("0x" + Long.toHexString(length) + " bytes is not a number of pages");
        }
    }

    private static MessageDigest newSha384() {
        try {
            return MessageDigest.getInstance("SHA-384");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-384", e);
        }
    }
}
