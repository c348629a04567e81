package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.janus.platform.snp.testdata.SyntheticOvmf;
import org.janus.platform.snp.testdata.SyntheticOvmf.Section;
import org.junit.jupiter.api.Test;
import java.util.List;
import java.util.Optional;
import org.janus.platform.snp.measure.CpuSignature;
import org.janus.platform.snp.measure.FirmwareImageException;
import org.janus.platform.snp.measure.KernelHashes;
import org.janus.platform.snp.measure.LaunchDigest;
import org.janus.platform.snp.measure.MeasurementOptions;

/**
 * OVMF images as outside input: {@link OvmfImage#parse} and everything an SEV-SNP launch reads from an image (the
 * footer GUID table, the SEV metadata, the SEV-ES reset block, the SEV hash table area of an AmdSev build and where
 * the hash table goes in the SNP_KERNEL_HASHES section), then the launch plan with and without a kernel and its
 * digest. The contract: an image is read, or refused with a {@link FirmwareImageException} that has a
 * {@link FirmwareImageException.Problem} and one line naming the image and what is wrong; nothing else comes out,
 * in bounded time and memory.
 *
 * <p>Input: the first byte's bit 0 set means "the rest is the end of an image" (zeros in front up to whole pages, so
 * that the fuzzer works on the footer, where OVMF keeps everything a launch reads); clear, the rest is the image.
 */
class OvmfImageFuzzTest {
    static final String NAME = "fuzzed.fd";
    static final int MAX_IMAGE = 1 << 20;
    static final long MAX_NANOS = 5_000_000_000L;
    /** The digest hashes every section page by page: inputs with more are checked up to the plan. */
    static final long DIGEST_SECTION_BYTES = 16L << 20;
    private static final KernelHashes HASHES = KernelHashes.of(new byte[] {1, 2, 3}, null, "console=ttyS0");
    private static final CpuSignature CPU = CpuSignature.ofQemuModel("EPYC-v4");

    @FuzzTest
    void images(byte[] input) {
        if (input.length == 0 || input.length > MAX_IMAGE) return;
        byte[] image = image(input);
        long start = System.nanoTime();
        check(image);
        long took = System.nanoTime() - start;
        assertTrue(took < MAX_NANOS, "reading the image took " + took / 1_000_000 + " ms");
    }

    static byte[] image(byte[] input) {
        int length = input.length - 1;
        if ((input[0] & 1) == 0) return java.util.Arrays.copyOfRange(input, 1, input.length);
        int size = Math.max(OvmfImage.PAGE_SIZE, (length + OvmfImage.PAGE_SIZE - 1) / OvmfImage.PAGE_SIZE * OvmfImage.PAGE_SIZE);
        byte[] image = new byte[size];
        System.arraycopy(input, 1, image, size - length, length);
        return image;
    }

    static void check(byte[] bytes) {
        OvmfImage image;
        try {
            image = OvmfImage.parse(NAME, bytes);
        } catch (FirmwareImageException e) {
            assertRefusal(e);
            return;
        }
        assertEquals(bytes.length, image.size());
        assertEquals(OvmfImage.FOUR_GIB - bytes.length, image.loadGpa());
        assertNotNull(image.guidTable());
        image.sevEsResetEip();
        Optional<OvmfImage.SevHashTableArea> area = image.sevHashTable();
        area.ifPresent(a -> assertTrue(a.gpa() > 0 && a.gpa() < OvmfImage.FOUR_GIB && a.size() >= 0, a.toString()));
        List<SevMetadataSection> sections;
        try {
            sections = image.requireSevMetadata();
            image.requireSevEsResetEip();
        } catch (FirmwareImageException e) {
            assertRefusal(e);
            return;
        }
        long total = 0;
        for (SevMetadataSection s : sections) {
            assertTrue(s.length() > 0 && s.gpa() % OvmfImage.PAGE_SIZE == 0 && s.length() % OvmfImage.PAGE_SIZE == 0, s.toString());
            total += s.length();
        }
        plan(image, null, total);
        try {
            int offset = image.requireKernelHashesOffset();
            assertTrue(offset >= 0 && offset < OvmfImage.PAGE_SIZE, "the table lies in the section's first page: " + offset);
        } catch (FirmwareImageException e) {
            assertRefusal(e);
            return;
        }
        plan(image, HASHES, total);
    }

    private static void plan(OvmfImage image, KernelHashes hashes, long sectionBytes) {
        SnpLaunchPlan plan;
        try {
            plan = SnpLaunchPlan.forOvmf(image, 2, CPU, MeasurementOptions.defaults(), hashes);
        } catch (FirmwareImageException e) {
            assertRefusal(e);
            return;
        }
        assertEquals(2, plan.vmsas().size());
        if (sectionBytes <= DIGEST_SECTION_BYTES) {
            LaunchDigest digest = plan.expectedDigest();
            assertNotNull(digest);
        }
    }

    static void assertRefusal(FirmwareImageException e) {
        assertNotNull(e.problem(), "a refusal says which problem");
        String m = e.getMessage();
        assertNotNull(m);
        assertFalse(m.isBlank());
        assertEquals(1, m.lines().count(), "one line: " + m);
        assertTrue(m.contains(NAME), "names the image: " + m);
    }

    // ---- regressions: inputs the seeds and the fuzzer found, inlined ----

    private static byte[] withSections(Section... sections) {
        return new SyntheticOvmf().sevMetadata(sections).sevHashTable(0x80fc00, 0x400).resetEip(0x80b004).build();
    }

    private static FirmwareImageException.Problem refusal(byte[] image) {
        check(image);   // the contract, as the fuzz target checks it
        try {
            OvmfImage parsed = OvmfImage.parse(NAME, image);
            parsed.requireKernelHashesOffset();
            SnpLaunchPlan.forOvmf(parsed, 1, CPU, MeasurementOptions.defaults(), HASHES);
        } catch (FirmwareImageException e) {
            return e.problem();
        }
        throw new AssertionError("the image was not refused");
    }

    /** Seed huge-sections: a 4 GiB kernel-hashes section went through an int cast into IllegalArgumentException. */
    @Test
    void aKernelHashesSectionOfGigabytesIsRefusedNotAllocated() {
        assertEquals(FirmwareImageException.Problem.BAD_SEV_HASH_TABLE,
                refusal(withSections(new Section(0x80f000, 0x80000000L, SyntheticOvmf.SNP_KERNEL_HASHES))));
        assertEquals(FirmwareImageException.Problem.BAD_SEV_HASH_TABLE,
                refusal(withSections(new Section(0x80f000, 0x40000000L, SyntheticOvmf.SNP_KERNEL_HASHES))),
                "1 GiB would have been allocated for the launch");
    }

    /** Sections past 4 GiB, over each other or over the image would be launched twice or nowhere. */
    @Test
    void sectionsAbove4GiBOrOverlappingAreRefused() {
        assertEquals(FirmwareImageException.Problem.BAD_SEV_METADATA,
                refusal(withSections(new Section(0xfffff000L, 0x2000, SyntheticOvmf.SNP_SEC_MEM))));
        assertEquals(FirmwareImageException.Problem.BAD_SEV_METADATA, refusal(withSections(
                new Section(0x800000, 0x9000, SyntheticOvmf.SNP_SEC_MEM), new Section(0x808000, 0x1000, SyntheticOvmf.CPUID))));
        assertEquals(FirmwareImageException.Problem.BAD_SEV_METADATA,
                refusal(withSections(new Section(0xffff0000L, 0x1000, SyntheticOvmf.SNP_SEC_MEM))), "over the 64 KiB image");
        // Thousands of sections of 4 GiB each would have been hashed page by page: a few sections cover the space.
        Section[] many = new Section[300];
        for (int i = 0; i < many.length; i++) many[i] = new Section(0, 0xfffff000L, SyntheticOvmf.SNP_SEC_MEM);
        long start = System.nanoTime();
        assertEquals(FirmwareImageException.Problem.BAD_SEV_METADATA, refusal(withSections(many)));
        assertTrue(System.nanoTime() - start < MAX_NANOS);
    }
}
