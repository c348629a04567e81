package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;

import org.janus.platform.snp.measure.LaunchDigest;
import org.janus.platform.snp.testdata.GoldenData;
import org.janus.platform.snp.testdata.GoldenData.ChainStep;
import org.junit.jupiter.api.Test;

class SnpLaunchDigestTest {

    @Test
    void oneZeroPageHashesAPageInfoBuiltByHand() throws Exception {
        long gpa = 0x0000_1234_5678_9000L;
        byte[] pageInfo = new byte[0x70];            // digest and contents zero
        pageInfo[0x60] = 0x70;                        // LENGTH, little-endian u16
        pageInfo[0x62] = 3;                           // PAGE_TYPE ZERO
        for (int i = 0; i < 8; i++) {
            pageInfo[0x68 + i] = (byte) (gpa >>> (8 * i));
        }
        byte[] expected = MessageDigest.getInstance("SHA-384").digest(pageInfo);

        SnpLaunchDigest digest = new SnpLaunchDigest();
        digest.addUnhashedPages(SnpPageType.ZERO, gpa, 4096);
        assertArrayEquals(expected, digest.digest().bytes());
    }

    @Test
    void aNormalPageCarriesTheHashOfItsContentsAndTheDigestSoFar() throws Exception {
        byte[] page = new byte[4096];
        Arrays.fill(page, (byte) 0xa5);
        MessageDigest sha384 = MessageDigest.getInstance("SHA-384");
        byte[] previous = new byte[48];
        Arrays.fill(previous, (byte) 0x11);
        byte[] pageInfo = new byte[0x70];
        System.arraycopy(previous, 0, pageInfo, 0, 48);
        System.arraycopy(sha384.digest(page), 0, pageInfo, 0x30, 48);
        pageInfo[0x60] = 0x70;
        pageInfo[0x62] = 1;                           // NORMAL
        pageInfo[0x69] = 0x20;                        // GPA 0x2000
        byte[] expected = sha384.digest(pageInfo);

        SnpLaunchDigest digest = new SnpLaunchDigest(new LaunchDigest(previous));
        digest.addNormalPages(0x2000, ByteBuffer.wrap(page));
        assertArrayEquals(expected, digest.digest().bytes());
    }

    @Test
    void followsSevSnpMeasuresChainStepByStep() {
        SnpLaunchDigest digest = new SnpLaunchDigest();
        for (ChainStep step : GoldenData.load().pageInfoChain()) {
            long gpa = GoldenData.parseHex(step.gpa());
            switch (step.pageType()) {
                case "NORMAL" -> {
                    byte[] page = new byte[4096];
                    for (int i = 0; i < page.length; i++) {
                        page[i] = (byte) i;
                    }
                    digest.addNormalPages(gpa, ByteBuffer.wrap(page));
                }
                case "VMSA" -> {
                    assertEquals(SnpLaunchDigest.VMSA_GPA, gpa);
                    byte[] page = new byte[4096];
                    Arrays.fill(page, (byte) 0x5a);
                    digest.addVmsaPage(SnpLaunchDigest.sha384(page));
                }
                default -> digest.addUnhashedPages(SnpPageType.valueOf(step.pageType()), gpa, 4096);
            }
            assertEquals(step.digestAfter(), digest.digest().hex(), "after the " + step.pageType() + " page");
        }
    }

    @Test
    void unhashedRangesAreMeasuredPageByPage() {
        SnpLaunchDigest whole = new SnpLaunchDigest();
        whole.addUnhashedPages(SnpPageType.ZERO, 0x800000, 3 * 4096);
        SnpLaunchDigest single = new SnpLaunchDigest();
        for (int i = 0; i < 3; i++) {
            single.addUnhashedPages(SnpPageType.ZERO, 0x800000 + i * 4096L, 4096);
        }
        assertEquals(single.digest(), whole.digest());
    }

    @Test
    void pageTypeAndAddressBothChangeTheDigest() {
        SnpLaunchDigest zero = new SnpLaunchDigest();
        zero.addUnhashedPages(SnpPageType.ZERO, 0x800000, 4096);
        SnpLaunchDigest secrets = new SnpLaunchDigest();
        secrets.addUnhashedPages(SnpPageType.SECRETS, 0x800000, 4096);
        SnpLaunchDigest elsewhere = new SnpLaunchDigest();
        elsewhere.addUnhashedPages(SnpPageType.ZERO, 0x801000, 4096);
        assertNotEquals(zero.digest(), secrets.digest());
        assertNotEquals(zero.digest(), elsewhere.digest());
    }

    @Test
    void refusesPartialPagesAndMeasuredTypesWithoutContents() {
        SnpLaunchDigest digest = new SnpLaunchDigest();
        assertThrows(IllegalArgumentException.class,
                () -> digest.addUnhashedPages(SnpPageType.ZERO, 0x800800, 4096));
        assertThrows(IllegalArgumentException.class,
                () -> digest.addUnhashedPages(SnpPageType.ZERO, 0x800000, 100));
        assertThrows(IllegalArgumentException.class,
                () -> digest.addUnhashedPages(SnpPageType.NORMAL, 0x800000, 4096));
        assertThrows(IllegalArgumentException.class,
                () -> digest.addNormalPages(0x800000, ByteBuffer.allocate(4000)));
        assertEquals(new LaunchDigest(new byte[48]), digest.digest(), "a refused step leaves the digest alone");
    }

    @Test
    void firmwareOnlyDigestsMatchSevSnpMeasure() throws Exception {
        GoldenData golden = GoldenData.load();
        for (GoldenData.FirmwareOnlyDigest expected : golden.firmwareOnlyDigests()) {
            OvmfImage ovmf = OvmfImage.parse(expected.image(), golden.installedImage(expected.image()));
            SnpLaunchDigest digest = new SnpLaunchDigest();
            digest.addNormalPages(ovmf.loadGpa(), ovmf.contents());
            assertEquals(expected.digest(), digest.digest().hex(), expected.image());
        }
    }
}
