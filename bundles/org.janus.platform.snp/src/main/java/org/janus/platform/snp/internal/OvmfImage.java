package org.janus.platform.snp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;

import org.janus.platform.snp.measure.FirmwareImageException;
import org.janus.platform.snp.measure.FirmwareImageException.Problem;

/**
 * An OVMF firmware image as a VMM loads it for an SEV-SNP guest: the whole file mapped so that it ends at 4 GiB,
 * with what the VMM must read from it, namely the footer GUID table, the SEV metadata (memory to prepare) and the
 * SEV-ES reset block (where application processors start).
 *
 * <p>Layout facts from edk2 {@code OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm}: the table's footer entry (a
 * 2-byte table length, then the footer GUID) ends 32 bytes before the end of the image, i.e. the footer GUID sits
 * at 0xffffffd0 once loaded. Each entry is {@code data, u16 length of data + 18, GUID}, so the table is walked from
 * the footer towards the start of the image.
 */
public final class OvmfImage {
    public static final long FOUR_GIB = 1L << 32;
    public static final int PAGE_SIZE = 4096;

    public static final UUID GUID_TABLE_FOOTER = UUID.fromString("96b582de-1fb2-45f7-baea-a366c55a082d");
    /** Data: u32 offset of the SEV metadata, counted back from the end of the image. */
    public static final UUID SEV_METADATA = UUID.fromString("dc886566-984a-4798-a75e-5585a7bf67cc");
    /** Data: u32 GPA and u32 size of the area for kernel/initrd/cmdline hashes (SEV and SEV-ES direct boot). */
    public static final UUID SEV_HASH_TABLE = UUID.fromString("7255371f-3a3b-4b04-927b-1da6efa8d454");
    /** Data: u32 GPA and u32 size of the area for an injected SEV launch secret. */
    public static final UUID SEV_SECRET_BLOCK = UUID.fromString("4c2eb361-7d9b-4cc3-8081-127c90d3d294");
    /** Data: u32 reset address of application processors: CS base in bits 31:16, IP in bits 15:0. */
    public static final UUID SEV_ES_RESET_BLOCK = UUID.fromString("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
    /** Data: u32 offset of the TDX metadata (TDVF), counted back from 4 GiB. Not used for SNP. */
    public static final UUID TDX_METADATA = UUID.fromString("e47a6535-984a-4798-865e-4685a7bf8ec2");

    /** The largest SNP_KERNEL_HASHES section a measured direct boot fills: its contents are built in memory. */
    static final long MAX_KERNEL_HASHES_BYTES = 1L << 20;
    private static final int FOOTER_END_FROM_IMAGE_END = 32;
    private static final int ENTRY_HEADER_SIZE = 2 + EfiGuid.SIZE;
    private static final byte[] SEV_METADATA_SIGNATURE = "ASEV".getBytes(StandardCharsets.US_ASCII);
    private static final int SEV_METADATA_VERSION = 1;
    private static final int SEV_METADATA_HEADER_SIZE = 16;
    private static final int SEV_METADATA_SECTION_SIZE = 12;

    private final String name;
    private final byte[] data;
    private final Map<UUID, byte[]> guidTable;
    private final boolean hasGuidTable;
    private final List<SevMetadataSection> sevMetadata;

    private OvmfImage(String name, byte[] data, Map<UUID, byte[]> guidTable, List<SevMetadataSection> sevMetadata) {
        this.name = name;
        this.data = data;
        this.hasGuidTable = guidTable != null;
        this.guidTable = guidTable == null ? Map.of() : Collections.unmodifiableMap(guidTable);
        this.sevMetadata = sevMetadata;
    }

    public static OvmfImage read(Path file) throws IOException, FirmwareImageException {
        return parse(file.toString(), Files.readAllBytes(file));
    }

    /**
     * Parses an image. An image without a GUID table or without SEV metadata parses (a plain VM can boot it);
     * {@link #requireSevMetadata()} refuses it for SNP. Malformed structures are refused here.
     *
     * @param name what to call the image in messages, e.g. its path
     */
    public static OvmfImage parse(String name, byte[] image) throws FirmwareImageException {
        if (image.length == 0 || image.length % PAGE_SIZE != 0) {
            throw new FirmwareImageException(Problem.BAD_SIZE, name + ": size " + image.length
                    + " is not a positive multiple of 4096; the SNP firmware measures the image page by page");
        }
        byte[] data = image.clone();
        Map<UUID, byte[]> table = parseGuidTable(name, data);
        List<SevMetadataSection> metadata = table != null && table.containsKey(SEV_METADATA)
                ? parseSevMetadata(name, data, table.get(SEV_METADATA))
                : null;
        return new OvmfImage(name, data, table, metadata);
    }

    public String name() {
        return name;
    }

    public int size() {
        return data.length;
    }

    /** Where the first byte lands: the image ends at 4 GiB. */
    public long loadGpa() {
        return FOUR_GIB - data.length;
    }

    /** A read-only view of the image bytes. */
    public ByteBuffer contents() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer();
    }

    /** Whether the image ends with an OVMF footer GUID table. */
    public boolean hasGuidTable() {
        return hasGuidTable;
    }

    /** The GUID table entries' data, nearest the footer first (the footer itself not included); empty without one. */
    public Map<UUID, ByteBuffer> guidTable() {
        Map<UUID, ByteBuffer> view = new LinkedHashMap<>();
        guidTable.forEach((guid, entry) -> view.put(guid, ByteBuffer.wrap(entry).asReadOnlyBuffer()));
        return Collections.unmodifiableMap(view);
    }

    /** The SEV metadata sections in the order OVMF lists them, if the image has SEV metadata. */
    public Optional<List<SevMetadataSection>> sevMetadata() {
        return Optional.ofNullable(sevMetadata);
    }

    /** The reset address of application processors under SEV-ES and SEV-SNP, if the image declares one. */
    public OptionalLong sevEsResetEip() {
        byte[] entry = guidTable.get(SEV_ES_RESET_BLOCK);
        return entry == null || entry.length < 4 ? OptionalLong.empty() : OptionalLong.of(u32(entry, 0));
    }

    /**
     * The SEV metadata sections, for a launch as an SEV-SNP guest.
     *
     * @throws FirmwareImageException {@link Problem#NO_GUID_TABLE} or {@link Problem#NO_SEV_METADATA}, with a message
     *                                saying that this OVMF build cannot start an SNP guest
     */
    public List<SevMetadataSection> requireSevMetadata() throws FirmwareImageException {
        if (!hasGuidTable()) {
            throw new FirmwareImageException(Problem.NO_GUID_TABLE, name + " has no OVMF footer GUID table (GUID "
                    + GUID_TABLE_FOOTER + " 32 bytes before its end), so it cannot start an SEV-SNP guest");
        }
        if (sevMetadata == null) {
            throw new FirmwareImageException(Problem.NO_SEV_METADATA, name + " has no SEV metadata (GUID "
                    + SEV_METADATA + " is missing from its footer GUID table): this OVMF build lacks SEV-SNP support"
                    + " and cannot start an SNP guest. Use an OVMF built with it, e.g. Debian's OVMF.fd or"
                    + " OVMF_CODE.fd (not the _4M builds), or an OvmfPkg/AmdSev build");
        }
        return sevMetadata;
    }

    /** The reset address of application processors, required for an SEV-SNP guest. */
    public long requireSevEsResetEip() throws FirmwareImageException {
        OptionalLong eip = sevEsResetEip();
        if (eip.isEmpty()) {
            throw new FirmwareImageException(Problem.NO_SEV_ES_RESET_BLOCK, name + " has no SEV-ES reset block (GUID "
                    + SEV_ES_RESET_BLOCK + "), so its application processors have no start address under SEV-SNP");
        }
        return eip.getAsLong();
    }

    /**
     * Where OVMF looks for the SEV hash table of measured direct boot, if the image declares it (the SEV hash table
     * entry with a non-zero address, as QEMU requires).
     */
    public Optional<SevHashTableArea> sevHashTable() {
        byte[] entry = guidTable.get(SEV_HASH_TABLE);
        if (entry == null || entry.length < 8 || u32(entry, 0) == 0) {
            return Optional.empty();
        }
        return Optional.of(new SevHashTableArea(u32(entry, 0), u32(entry, 4)));
    }

    /** The guest area OVMF reserves for the SEV hash table: its GPA and size, from the SEV hash table entry. */
    public record SevHashTableArea(long gpa, long size) {
    }

    /**
     * Where the SEV hash table goes for a measured direct boot: its offset within the SNP_KERNEL_HASHES section, as
     * QEMU computes it (the table's address within its page). Checks what QEMU checks (the area holds the padded
     * table) and what OVMF needs to find the table where QEMU puts it (it lies in the section's first page).
     *
     * @throws FirmwareImageException {@link Problem#NO_KERNEL_HASHES} if the image lacks the section or the entry,
     *                                {@link Problem#BAD_SEV_HASH_TABLE} if they do not fit together, or any
     *                                problem of {@link #requireSevMetadata()}
     */
    public int requireKernelHashesOffset() throws FirmwareImageException {
        SevMetadataSection section = requireSevMetadata().stream()
                .filter(s -> s.kind() == SevMetadataSection.Kind.SNP_KERNEL_HASHES).findFirst().orElse(null);
        if (section == null) {
            throw new FirmwareImageException(Problem.NO_KERNEL_HASHES, name + " has no SNP_KERNEL_HASHES section in"
                    + " its SEV metadata, so it cannot check a kernel, initrd and command line handed to it by the VMM"
                    + " (measured direct boot of an SEV-SNP guest); Debian's OVMF.fd and OVMF_CODE.fd are such builds."
                    + " Use an OVMF built from OvmfPkg/AmdSev/AmdSevX64.dsc (Debian's ovmf-amdsev: OVMF.amdsev.fd,"
                    + " which tools/fetch-ovmf-amdsev.sh fetches), or boot the kernel from the guest's disk");
        }
        SevHashTableArea area = sevHashTable().orElseThrow(() -> new FirmwareImageException(Problem.NO_KERNEL_HASHES,
                name + " has an SNP_KERNEL_HASHES section " + section + " but no SEV hash table entry (GUID "
                        + SEV_HASH_TABLE + ") saying where the hash table goes, so OVMF would not find it"));
        if (section.length() > MAX_KERNEL_HASHES_BYTES) {
            throw new FirmwareImageException(Problem.BAD_SEV_HASH_TABLE, String.format("%s: the %s section is larger than"
                    + " the %d KiB a launch builds in memory for it (AmdSev builds reserve one page)", name, section,
                    MAX_KERNEL_HASHES_BYTES >> 10));
        }
        int offset = (int) (area.gpa() % PAGE_SIZE);
        if (area.size() < SevHashTable.PADDED_SIZE) {
            throw new FirmwareImageException(Problem.BAD_SEV_HASH_TABLE, String.format("%s: the SEV hash table area"
                    + " at 0x%x has %d bytes, too small for the %d-byte table", name, area.gpa(), area.size(),
                    SevHashTable.PADDED_SIZE));
        }
        if (area.gpa() - offset != section.gpa() || offset + SevHashTable.PADDED_SIZE > section.length()) {
            throw new FirmwareImageException(Problem.BAD_SEV_HASH_TABLE, String.format("%s: the SEV hash table at 0x%x"
                    + " does not lie in the first page of the %s section, where the VMM places it", name, area.gpa(),
                    section));
        }
        return offset;
    }

    /** The entries of the footer GUID table, or null if the image has none. */
    private static Map<UUID, byte[]> parseGuidTable(String name, byte[] data) throws FirmwareImageException {
        int footerEnd = data.length - FOOTER_END_FROM_IMAGE_END;
        int footerStart = footerEnd - ENTRY_HEADER_SIZE;
        if (footerStart < 0 || !GUID_TABLE_FOOTER.equals(EfiGuid.read(data, footerEnd - EfiGuid.SIZE))) {
            return null;
        }
        Map<UUID, byte[]> table = new LinkedHashMap<>();
        int tableLength = u16(data, footerStart);
        int tableStart = footerEnd - tableLength;
        if (tableLength < ENTRY_HEADER_SIZE || tableStart < 0) {
            throw new FirmwareImageException(Problem.BAD_GUID_TABLE, String.format(
                    "%s: the footer GUID table claims %d bytes, which do not fit", name, tableLength));
        }
        int entryEnd = footerStart;
        while (entryEnd - tableStart >= ENTRY_HEADER_SIZE) {
            UUID guid = EfiGuid.read(data, entryEnd - EfiGuid.SIZE);
            int entryLength = u16(data, entryEnd - ENTRY_HEADER_SIZE);
            int entryStart = entryEnd - entryLength;
            if (entryLength < ENTRY_HEADER_SIZE || entryStart < tableStart) {
                throw new FirmwareImageException(Problem.BAD_GUID_TABLE, String.format(
                        "%s: GUID table entry %s claims %d bytes, outside the table", name, guid, entryLength));
            }
            byte[] entry = new byte[entryLength - ENTRY_HEADER_SIZE];
            System.arraycopy(data, entryStart, entry, 0, entry.length);
            // QEMU's lookup stops at the first match walking from the footer; keep that one if a GUID repeats.
            table.putIfAbsent(guid, entry);
            entryEnd = entryStart;
        }
        return table;
    }

    private static List<SevMetadataSection> parseSevMetadata(String name, byte[] data, byte[] entry)
            throws FirmwareImageException {
        if (entry.length < 4) {
            throw badMetadata(name, "its GUID table entry has " + entry.length + " bytes, not a 4-byte offset");
        }
        long offsetFromEnd = u32(entry, 0);
        long start = data.length - offsetFromEnd;
        if (start < 0 || start + SEV_METADATA_HEADER_SIZE > data.length) {
            throw badMetadata(name, String.format("offset 0x%x from the end lies outside the image", offsetFromEnd));
        }
        int at = (int) start;
        for (int i = 0; i < SEV_METADATA_SIGNATURE.length; i++) {
            if (data[at + i] != SEV_METADATA_SIGNATURE[i]) {
                throw badMetadata(name, String.format("no \"ASEV\" signature at image offset 0x%x", at));
            }
        }
        long headerLength = u32(data, at + 4);
        long version = u32(data, at + 8);
        long sectionCount = u32(data, at + 12);
        if (version != SEV_METADATA_VERSION) {
            throw badMetadata(name, "version " + version + ", only version 1 is defined");
        }
        if (SEV_METADATA_HEADER_SIZE + sectionCount * SEV_METADATA_SECTION_SIZE > headerLength
                || start + headerLength > data.length) {
            throw badMetadata(name, String.format("%d sections do not fit in its %d bytes within the image",
                    sectionCount, headerLength));
        }
        List<SevMetadataSection> sections = new ArrayList<>();
        for (int i = 0; i < sectionCount; i++) {
            int desc = at + SEV_METADATA_HEADER_SIZE + i * SEV_METADATA_SECTION_SIZE;
            long gpa = u32(data, desc);
            long length = u32(data, desc + 4);
            int code = (int) u32(data, desc + 8);
            SevMetadataSection.Kind kind = SevMetadataSection.Kind.ofCode(code);
            if (kind == null) {
                throw badMetadata(name, String.format("section %d has unknown type 0x%x", i, code));
            }
            if (length == 0 || gpa % PAGE_SIZE != 0 || length % PAGE_SIZE != 0) {
                throw badMetadata(name, String.format("section %d (%s at 0x%x, 0x%x bytes) is not whole pages",
                        i, kind, gpa, length));
            }
            if (gpa + length > FOUR_GIB) {
                throw badMetadata(name, String.format("section %d (%s at 0x%x, 0x%x bytes) ends above 4 GiB", i, kind, gpa,
                        length));
            }
            sections.add(new SevMetadataSection(gpa, length, kind));
        }
        // Each page is launched once: sections that overlap each other or the image would be launched twice, which the
        // SNP firmware refuses. Sorted by address, each section must start at or after the end of the one before.
        List<SevMetadataSection> byAddress = new ArrayList<>(sections);
        byAddress.add(new SevMetadataSection(FOUR_GIB - data.length, data.length, null));
        byAddress.sort(java.util.Comparator.comparingLong(SevMetadataSection::gpa));
        for (int i = 1; i < byAddress.size(); i++) {
            SevMetadataSection before = byAddress.get(i - 1);
            SevMetadataSection next = byAddress.get(i);
            if (next.gpa() < before.end()) {
                throw badMetadata(name, (before.kind() == null || next.kind() == null ? "a section overlaps the image itself: "
                        : "sections overlap: ") + describe(before) + " and " + describe(next));
            }
        }
        return List.copyOf(sections);
    }

    private static String describe(SevMetadataSection s) {
        return s.kind() == null ? String.format("the image [0x%x, 0x%x)", s.gpa(), s.end()) : s.toString();
    }

    private static FirmwareImageException badMetadata(String name, String why) {
        return new FirmwareImageException(Problem.BAD_SEV_METADATA, name + ": malformed SEV metadata: " + why);
    }

    private static int u16(byte[] bytes, int offset) {
        return Short.toUnsignedInt(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getShort(offset));
    }

    private static long u32(byte[] bytes, int offset) {
        return Integer.toUnsignedLong(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(offset));
    }
}
