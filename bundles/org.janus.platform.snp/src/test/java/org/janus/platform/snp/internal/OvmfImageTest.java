package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.janus.platform.snp.internal.SevMetadataSection.Kind;
import org.janus.platform.snp.measure.FirmwareImageException;
import org.janus.platform.snp.measure.FirmwareImageException.Problem;
import org.janus.platform.snp.testdata.GoldenData;
import org.janus.platform.snp.testdata.SyntheticOvmf;
import org.janus.platform.snp.testdata.SyntheticOvmf.Entry;
import org.janus.platform.snp.testdata.SyntheticOvmf.Section;
import org.junit.jupiter.api.Test;

class OvmfImageTest {
    private static final UUID OTHER = UUID.fromString("4c2eb361-7d9b-4cc3-8081-127c90d3d294");

    @Test
    void efiGuidByteOrderMatchesTheFirmwareEncoding() {
        byte[] footer = EfiGuid.bytes(OvmfImage.GUID_TABLE_FOOTER);
        // As ResetVectorVtf0.asm spells the footer GUID: DB 0xDE, 0x82, 0xB5, 0x96, 0xB2, 0x1F, 0xF7, 0x45, ...
        assertArrayEquals(new byte[] {(byte) 0xde, (byte) 0x82, (byte) 0xb5, (byte) 0x96, (byte) 0xb2, 0x1f,
                (byte) 0xf7, 0x45, (byte) 0xba, (byte) 0xea, (byte) 0xa3, 0x66, (byte) 0xc5, 0x5a, 0x08, 0x2d},
                footer);
        assertEquals(OvmfImage.GUID_TABLE_FOOTER, EfiGuid.read(footer, 0));
        assertArrayEquals(SyntheticOvmf.guidBytes(OvmfImage.SEV_METADATA), EfiGuid.bytes(OvmfImage.SEV_METADATA));
    }

    @Test
    void walksTheGuidTableFromTheFooterBackwards() throws Exception {
        byte[] image = new SyntheticOvmf()
                .entry(new Entry(OTHER, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}))
                .resetEip(0x80b004)
                .build();
        OvmfImage ovmf = OvmfImage.parse("synthetic", image);

        assertTrue(ovmf.hasGuidTable());
        Map<UUID, ByteBuffer> table = ovmf.guidTable();
        assertEquals(List.of(OvmfImage.SEV_ES_RESET_BLOCK, OTHER), List.copyOf(table.keySet()));
        ByteBuffer other = table.get(OTHER);
        byte[] otherData = new byte[other.remaining()];
        other.get(otherData);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, otherData);
        assertEquals(0x80b004, ovmf.sevEsResetEip().orElseThrow());
        assertEquals(OvmfImage.FOUR_GIB - 64 * 1024, ovmf.loadGpa());
        assertTrue(ovmf.sevMetadata().isEmpty());
    }

    @Test
    void parsesSevMetadataSectionsInOrder() throws Exception {
        byte[] image = new SyntheticOvmf()
                .sevMetadata(new Section(0x800000, 0x9000, 1), new Section(0x80d000, 0x1000, 2),
                        new Section(0x80e000, 0x1000, 3), new Section(0x80f000, 0x1000, 0x10),
                        new Section(0x810000, 0x1000, 4))
                .resetEip(0x80b004)
                .build();
        List<SevMetadataSection> sections = OvmfImage.parse("synthetic", image).requireSevMetadata();
        assertEquals(List.of(
                new SevMetadataSection(0x800000, 0x9000, Kind.SNP_SEC_MEM),
                new SevMetadataSection(0x80d000, 0x1000, Kind.SNP_SECRETS),
                new SevMetadataSection(0x80e000, 0x1000, Kind.CPUID),
                new SevMetadataSection(0x80f000, 0x1000, Kind.SNP_KERNEL_HASHES),
                new SevMetadataSection(0x810000, 0x1000, Kind.SVSM_CAA)), sections);
    }

    @Test
    void anImageWithoutFooterParsesButIsRefusedForSnp() throws Exception {
        OvmfImage ovmf = OvmfImage.parse("plain.fd", new SyntheticOvmf().withoutFooter().build());
        assertFalse(ovmf.hasGuidTable());
        assertTrue(ovmf.guidTable().isEmpty());
        FirmwareImageException e = assertThrows(FirmwareImageException.class, ovmf::requireSevMetadata);
        assertEquals(Problem.NO_GUID_TABLE, e.problem());
        assertTrue(e.getMessage().startsWith("plain.fd has no OVMF footer GUID table"), e.getMessage());
    }

    @Test
    void anEmptyGuidTableIsStillATable() throws Exception {
        OvmfImage ovmf = OvmfImage.parse("empty-table", new SyntheticOvmf().build());
        assertTrue(ovmf.hasGuidTable());
        assertEquals(Problem.NO_SEV_METADATA,
                assertThrows(FirmwareImageException.class, ovmf::requireSevMetadata).problem());
    }

    @Test
    void anImageWithoutSevMetadataIsRefusedForSnpWithTheReason() throws Exception {
        OvmfImage ovmf = OvmfImage.parse("no-sev.fd", new SyntheticOvmf().resetEip(0x808004).build());
        FirmwareImageException e = assertThrows(FirmwareImageException.class, ovmf::requireSevMetadata);
        assertEquals(Problem.NO_SEV_METADATA, e.problem());
        assertTrue(e.getMessage().contains("no-sev.fd has no SEV metadata"), e.getMessage());
        assertTrue(e.getMessage().contains("cannot start an SNP guest"), e.getMessage());
    }

    @Test
    void aMissingResetBlockIsRefusedForSnp() throws Exception {
        OvmfImage ovmf = OvmfImage.parse("x", new SyntheticOvmf().sevMetadata(new Section(0x800000, 0x1000, 1))
                .build());
        assertEquals(Problem.NO_SEV_ES_RESET_BLOCK,
                assertThrows(FirmwareImageException.class, ovmf::requireSevEsResetEip).problem());
    }

    @Test
    void refusesSizesThatAreNotWholePages() {
        assertEquals(Problem.BAD_SIZE, assertThrows(FirmwareImageException.class,
                () -> OvmfImage.parse("x", new byte[0])).problem());
        assertEquals(Problem.BAD_SIZE, assertThrows(FirmwareImageException.class,
                () -> OvmfImage.parse("x", new byte[4096 + 512])).problem());
    }

    @Test
    void refusesMalformedGuidTables() {
        byte[] shortEntry = new SyntheticOvmf().entry(new Entry(OTHER, new byte[4], 10)).build();
        assertEquals(Problem.BAD_GUID_TABLE, parseProblem(shortEntry));

        byte[] longEntry = new SyntheticOvmf().entry(new Entry(OTHER, new byte[4], 400)).build();
        assertEquals(Problem.BAD_GUID_TABLE, parseProblem(longEntry));

        byte[] tableLongerThanImage = new SyntheticOvmf().size(4096).tableLength(0xF000).build();
        assertEquals(Problem.BAD_GUID_TABLE, parseProblem(tableLongerThanImage));

        byte[] tableShorterThanFooter = new SyntheticOvmf().tableLength(4).build();
        assertEquals(Problem.BAD_GUID_TABLE, parseProblem(tableShorterThanFooter));
    }

    @Test
    void refusesMalformedSevMetadata() {
        Section secMem = new Section(0x800000, 0x9000, 1);
        assertEquals(Problem.BAD_SEV_METADATA,
                parseProblem(new SyntheticOvmf().sevMetadata(secMem).metadataSignature("VESA").build()));
        assertEquals(Problem.BAD_SEV_METADATA,
                parseProblem(new SyntheticOvmf().sevMetadata(secMem).metadataVersion(2).build()));
        assertEquals(Problem.BAD_SEV_METADATA,
                parseProblem(new SyntheticOvmf().sevMetadata(new Section(0x800000, 0x1000, 7)).build()));
        assertEquals(Problem.BAD_SEV_METADATA,
                parseProblem(new SyntheticOvmf().sevMetadata(new Section(0x800800, 0x1000, 1)).build()));
        assertEquals(Problem.BAD_SEV_METADATA,
                parseProblem(new SyntheticOvmf().sevMetadata(new Section(0x800000, 0x1800, 1)).build()));
        assertEquals(Problem.BAD_SEV_METADATA,
                parseProblem(new SyntheticOvmf().sevMetadata(secMem).metadataOffsetFromEnd(0x20000).build()));
        assertEquals(Problem.BAD_SEV_METADATA,
                parseProblem(new SyntheticOvmf().sevMetadata(secMem).metadataOffsetFromEnd(8).build()));
    }

    @Test
    void debianOvmfFdCarriesSevMetadata() throws Exception {
        GoldenData golden = GoldenData.load();
        OvmfImage ovmf = OvmfImage.parse("OVMF.fd", golden.installedImage("OVMF.fd"));
        assertEquals(0xffe00000L, ovmf.loadGpa());
        assertEquals(List.of(
                new SevMetadataSection(0x800000, 0x9000, Kind.SNP_SEC_MEM),
                new SevMetadataSection(0x80a000, 0x3000, Kind.SNP_SEC_MEM),
                new SevMetadataSection(0x80d000, 0x1000, Kind.SNP_SECRETS),
                new SevMetadataSection(0x80e000, 0x1000, Kind.CPUID),
                new SevMetadataSection(0x80f000, 0x11000, Kind.SNP_SEC_MEM)), ovmf.requireSevMetadata());
        assertEquals(0x80b004, ovmf.requireSevEsResetEip());
        assertTrue(ovmf.guidTable().containsKey(OvmfImage.TDX_METADATA));
        assertTrue(ovmf.guidTable().containsKey(OvmfImage.SEV_HASH_TABLE));
    }

    @Test
    void debianOvmfCodeFdCarriesTheSameSevMetadata() throws Exception {
        GoldenData golden = GoldenData.load();
        OvmfImage code = OvmfImage.parse("OVMF_CODE.fd", golden.installedImage("OVMF_CODE.fd"));
        OvmfImage unified = OvmfImage.parse("OVMF.fd", golden.installedImage("OVMF.fd"));
        assertEquals(0xffe20000L, code.loadGpa());
        assertEquals(unified.requireSevMetadata(), code.requireSevMetadata());
        assertEquals(0x80b004, code.requireSevEsResetEip());
    }

    @Test
    void debianOvmfCode4mHasNoSevMetadataAndIsRefused() throws Exception {
        GoldenData golden = GoldenData.load();
        OvmfImage ovmf = OvmfImage.parse("OVMF_CODE_4M.fd", golden.installedImage("OVMF_CODE_4M.fd"));
        assertTrue(ovmf.hasGuidTable());
        assertFalse(ovmf.guidTable().containsKey(OvmfImage.SEV_METADATA));
        assertFalse(ovmf.guidTable().containsKey(OvmfImage.TDX_METADATA));
        assertEquals(0x808004, ovmf.requireSevEsResetEip());
        FirmwareImageException e = assertThrows(FirmwareImageException.class, ovmf::requireSevMetadata);
        assertEquals(Problem.NO_SEV_METADATA, e.problem());
        assertTrue(e.getMessage().contains("OVMF_CODE_4M.fd has no SEV metadata"), e.getMessage());
    }

    private static Problem parseProblem(byte[] image) {
        return assertThrows(FirmwareImageException.class, () -> OvmfImage.parse("malformed", image)).problem();
    }

    @Test
    void theKernelHashesTableGoesAtItsOffsetInTheKernelHashesSection() throws Exception {
        OvmfImage ovmf = OvmfImage.parse("amdsev", SyntheticOvmf.amdSevLike().build());
        assertEquals(new OvmfImage.SevHashTableArea(0x80fc00, 0x400), ovmf.sevHashTable().orElseThrow());
        assertEquals(0xc00, ovmf.requireKernelHashesOffset());
    }

    @Test
    void measuredDirectBootNeedsTheKernelHashesSectionAndTheHashTableEntry() throws Exception {
        Section secrets = new Section(0x80d000, 0x1000, SyntheticOvmf.SNP_SECRETS);
        Section hashes = new Section(0x80f000, 0x1000, SyntheticOvmf.SNP_KERNEL_HASHES);
        FirmwareImageException noSection = assertThrows(FirmwareImageException.class, () -> OvmfImage.parse("debian",
                new SyntheticOvmf().sevMetadata(secrets).sevHashTable(0x80fc00, 0x400).build())
                .requireKernelHashesOffset());
        assertEquals(Problem.NO_KERNEL_HASHES, noSection.problem());
        assertTrue(noSection.getMessage().startsWith("debian has no SNP_KERNEL_HASHES section"), noSection.getMessage());
        FirmwareImageException noEntry = assertThrows(FirmwareImageException.class, () -> OvmfImage.parse("x",
                new SyntheticOvmf().sevMetadata(secrets, hashes).build()).requireKernelHashesOffset());
        assertEquals(Problem.NO_KERNEL_HASHES, noEntry.problem());
        assertTrue(noEntry.getMessage().contains("no SEV hash table entry"), noEntry.getMessage());
        FirmwareImageException small = assertThrows(FirmwareImageException.class, () -> OvmfImage.parse("x",
                new SyntheticOvmf().sevMetadata(hashes).sevHashTable(0x80fc00, 175).build()).requireKernelHashesOffset());
        assertEquals(Problem.BAD_SEV_HASH_TABLE, small.problem());
        FirmwareImageException elsewhere = assertThrows(FirmwareImageException.class, () -> OvmfImage.parse("x",
                new SyntheticOvmf().sevMetadata(hashes).sevHashTable(0x810000, 0x400).build()).requireKernelHashesOffset());
        assertEquals(Problem.BAD_SEV_HASH_TABLE, elsewhere.problem());
        FirmwareImageException overrun = assertThrows(FirmwareImageException.class, () -> OvmfImage.parse("x",
                new SyntheticOvmf().sevMetadata(hashes).sevHashTable(0x80ff80, 0x400).build()).requireKernelHashesOffset());
        assertEquals(Problem.BAD_SEV_HASH_TABLE, overrun.problem());
    }

    @Test
    void debiansOvmfHasNoKernelHashesSection() throws Exception {
        GoldenData golden = GoldenData.load();
        for (String name : new String[] {"OVMF.fd", "OVMF_CODE.fd"}) {
            OvmfImage ovmf = OvmfImage.parse(name, golden.installedImage(name));
            assertEquals(Problem.NO_KERNEL_HASHES, assertThrows(FirmwareImageException.class,
                    ovmf::requireKernelHashesOffset).problem(), name);
        }
    }
}
