package org.janus.platform.tdx.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A TDVF image (the OVMF build for Intel TDX) as a VMM loads it: the whole file ending at 4 GiB, and its TDX metadata,
 * the list of sections the VMM adds to the TD.
 *
 * <p>Where the metadata is: the OVMF footer GUID table (a table whose footer entry ends 32 bytes before the end of
 * the image; each entry is {@code data, u16 length of data + 18, GUID}, walked from the footer towards the start)
 * holds the TDX metadata offset entry, whose data is a u32 counted back from the end of the image. There, the
 * metadata is {@code "TDVF", u32 length, u32 version (1), u32 section count} and then 32-byte sections
 * {@code u32 data offset, u32 raw data size, u64 memory address, u64 memory data size, u32 type, u32 attributes}
 * (TDX Virtual Firmware Design Guide). Checks as QEMU's tdvf_parse_metadata makes them: at least two sections, the
 * length matching the count, page-aligned addresses and sizes, image bytes only for BFV and CFV.
 */
public final class TdvfImage {
    public static final long FOUR_GIB = 1L << 32;
    public static final int PAGE = 4096;
    static final UUID GUID_TABLE_FOOTER = UUID.fromString("96b582de-1fb2-45f7-baea-a366c55a082d");
    static final UUID TDX_METADATA_OFFSET = UUID.fromString("e47a6535-984a-4798-865e-4685a7bf8ec2");
    private static final int FOOTER_END_FROM_IMAGE_END = 32;
    private static final int ENTRY_HEADER = 18;
    private static final int SIGNATURE = 0x46564454; // "TDVF", little endian
    private static final int HEADER = 16;
    private static final int SECTION = 32;

    /**
     * The most guest memory the sections may cover together: each section's contents are built in memory for the
     * launch and the MRTD (Debian's TDVF covers 4.1 MiB in six sections).
     */
    static final long MAX_SECTION_BYTES = 256L << 20;

    private final String name;
    private final byte[] data;
    private final List<TdvfSection> sections;

    private TdvfImage(String name, byte[] data, List<TdvfSection> sections) {
        this.name = name;
        this.data = data;
        this.sections = List.copyOf(sections);
    }

    public static TdvfImage read(Path file) throws IOException, TdvfException {
        return parse(file.toString(), Files.readAllBytes(file));
    }

    /**
     * @param name what to call the image in messages, e.g. its path
     * @throws TdvfException naming what makes it no TDVF image (no GUID table, no TDX metadata, malformed metadata)
     */
    public static TdvfImage parse(String name, byte[] image) throws TdvfException {
        if (image.length == 0 || image.length % PAGE != 0 || image.length > FOUR_GIB / 2)
            throw new TdvfException(name + ": size " + image.length + " is not a positive multiple of 4096 below 2 GiB;"
                    + " a TDVF image is loaded page by page so that it ends at 4 GiB");
        byte[] data = image.clone();
        byte[] offsetEntry = guidEntry(name, data, TDX_METADATA_OFFSET);
        if (offsetEntry == null || offsetEntry.length < 4) throw new TdvfException(name + " is not a TDVF image: its"
                + " footer GUID table has no TDX metadata offset (GUID " + TDX_METADATA_OFFSET + "); use an OVMF built"
                + " for Intel TDX, e.g. Debian's ovmf-inteltdx (OVMF.inteltdx.ms.fd)");
        long fromEnd = u32(offsetEntry, 0);
        long at = data.length - fromEnd;
        if (fromEnd == 0 || at < 0 || at + HEADER > data.length)
            throw new TdvfException(name + ": the TDX metadata offset 0x" + Long.toHexString(fromEnd) + " lies outside the image");
        int start = (int) at;
        if (u32(data, start) != SIGNATURE)
            throw new TdvfException(String.format("%s: no \"TDVF\" signature at image offset 0x%x", name, start));
        long length = u32(data, start + 4);
        long version = u32(data, start + 8);
        long count = u32(data, start + 12);
        if (start + length > data.length) throw new TdvfException(name + ": the TDVF metadata runs past the image");
        if (version != 1) throw new TdvfException(name + ": TDVF metadata version " + version + ", only version 1 is defined");
        if (count < 2) throw new TdvfException(name + ": " + count + " TDVF sections; a TDVF has at least two");
        if (length != HEADER + count * SECTION) throw new TdvfException(String.format(
                "%s: TDVF metadata length 0x%x does not match %d sections (0x%x)", name, length, count, HEADER + count * SECTION));
        List<TdvfSection> sections = new ArrayList<>();
        long covered = 0;
        for (int i = 0; i < count; i++) {
            int s = start + HEADER + i * SECTION;
            long dataOffset = u32(data, s);
            long raw = u32(data, s + 4);
            long gpa = u64(data, s + 8);
            long size = u64(data, s + 16);
            long typeCode = u32(data, s + 24);
            long attributes = u32(data, s + 28);
            String where = String.format("%s: TDVF section %d", name, i);
            TdvfSection.Type type = TdvfSection.Type.ofCode(typeCode);
            if (type == null) throw new TdvfException(where + " has type " + typeCode + ", which Janus does not launch"
                    + " (BFV 0, CFV 1, TD_HOB 2, TEMP_MEM 3)");
            if (size < raw) throw new TdvfException(String.format("%s: raw data size 0x%x exceeds its memory size 0x%x", where, raw, size));
            if (gpa % PAGE != 0 || size % PAGE != 0 || size == 0)
                throw new TdvfException(String.format("%s: address 0x%x or size 0x%x is not a positive multiple of 4 KiB", where, gpa, size));
            if (gpa < 0 || gpa + size > FOUR_GIB) throw new TdvfException(String.format("%s: [0x%x, 0x%x) is not below 4 GiB", where, gpa, gpa + size));
            covered += size;
            if (covered > MAX_SECTION_BYTES) throw new TdvfException(String.format("%s: the TDVF sections up to section %d cover"
                    + " more than %d MiB; Janus builds each section's contents in memory (a real TDVF's cover a few MiB)", name, i,
                    MAX_SECTION_BYTES >> 20));
            boolean fromImage = type == TdvfSection.Type.BFV || type == TdvfSection.Type.CFV;
            if (fromImage && raw == 0) throw new TdvfException(where + " (" + type + ") has no data in the image");
            if (!fromImage && raw != 0) throw new TdvfException(where + " (" + type + ") claims image data, which it cannot have");
            if (fromImage && dataOffset + raw > data.length)
                throw new TdvfException(String.format("%s: its data [0x%x, 0x%x) lies outside the image", where, dataOffset, dataOffset + raw));
            sections.add(new TdvfSection(type, dataOffset, raw, gpa, size, attributes));
        }
        // Sorted by address, each section must start at or after the end of the one before (not pairwise: a large image
        // can hold millions of sections).
        List<TdvfSection> byAddress = new ArrayList<>(sections);
        byAddress.sort(java.util.Comparator.comparingLong(TdvfSection::gpa));
        for (int i = 1; i < byAddress.size(); i++) {
            TdvfSection a = byAddress.get(i - 1);
            TdvfSection b = byAddress.get(i);
            if (b.gpa() < a.end()) throw new TdvfException(name + ": TDVF sections " + a + " and " + b + " overlap");
        }
        if (sections.stream().filter(s -> s.type() == TdvfSection.Type.TD_HOB).count() != 1)
            throw new TdvfException(name + ": a TDVF has exactly one TD_HOB section, where the VMM hands it the memory map");
        TdvfSection hob = sections.stream().filter(s -> s.type() == TdvfSection.Type.TD_HOB).findFirst().orElseThrow();
        long ranges = sections.stream().filter(s -> s.type() == TdvfSection.Type.TD_HOB || s.type() == TdvfSection.Type.TEMP_MEM).count();
        long needed = TdHob.HANDOFF_SIZE + ranges * TdHob.RESOURCE_SIZE + TdHob.END_SIZE;
        if (hob.size() < needed) throw new TdvfException(String.format("%s: its TD_HOB section %s has 0x%x bytes, too few for the"
                + " TD HOB of its %d memory ranges (0x%x bytes)", name, hob, hob.size(), ranges, needed));
        return new TdvfImage(name, data, sections);
    }

    public String name() { return name; }

    public int size() { return data.length; }

    /** Where the image's first byte lands: it ends at 4 GiB. */
    public long loadGpa() { return FOUR_GIB - data.length; }

    /** The sections in the order of the metadata, which is the order they are added (and measured) in. */
    public List<TdvfSection> sections() { return sections; }

    public TdvfSection hob() {
        return sections.stream().filter(s -> s.type() == TdvfSection.Type.TD_HOB).findFirst().orElseThrow();
    }

    /** A section's bytes as the TD gets them: the image's data, zero-padded to the section's size (all zero without). */
    public byte[] contents(TdvfSection s) {
        byte[] out = new byte[(int) s.size()];
        if (s.rawDataSize() > 0) System.arraycopy(data, (int) s.dataOffset(), out, 0, (int) s.rawDataSize());
        return out;
    }

    /** A read-only view of the image. */
    public ByteBuffer bytes() { return ByteBuffer.wrap(data).asReadOnlyBuffer(); }

    /** The data of the footer GUID table's entry for {@code guid}, or null (also for an image without the table). */
    private static byte[] guidEntry(String name, byte[] data, UUID guid) throws TdvfException {
        int footerEnd = data.length - FOOTER_END_FROM_IMAGE_END;
        int footerStart = footerEnd - ENTRY_HEADER;
        if (footerStart < 0 || !GUID_TABLE_FOOTER.equals(guid(data, footerEnd - 16))) return null;
        int tableLength = u16(data, footerStart);
        int tableStart = footerEnd - tableLength;
        if (tableLength < ENTRY_HEADER || tableStart < 0)
            throw new TdvfException(name + ": the footer GUID table claims " + tableLength + " bytes, which do not fit");
        int entryEnd = footerStart;
        while (entryEnd - tableStart >= ENTRY_HEADER) {
            UUID g = guid(data, entryEnd - 16);
            int length = u16(data, entryEnd - ENTRY_HEADER);
            int entryStart = entryEnd - length;
            if (length < ENTRY_HEADER || entryStart < tableStart)
                throw new TdvfException(name + ": GUID table entry " + g + " claims " + length + " bytes, outside the table");
            if (g.equals(guid)) {
                byte[] entry = new byte[length - ENTRY_HEADER];
                System.arraycopy(data, entryStart, entry, 0, entry.length);
                return entry;
            }
            entryEnd = entryStart;
        }
        return null;
    }

    /** An EFI_GUID: u32, u16, u16 little endian, then 8 bytes as they are. */
    static UUID guid(byte[] b, int at) {
        long msb = (u32(b, at) << 32) | ((long) u16(b, at + 4) << 16) | u16(b, at + 6);
        long lsb = 0;
        for (int i = 8; i < 16; i++) lsb = (lsb << 8) | (b[at + i] & 0xff);
        return new UUID(msb, lsb);
    }

    static int u16(byte[] b, int at) { return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8; }

    static long u32(byte[] b, int at) { return (u16(b, at) | (long) u16(b, at + 2) << 16) & 0xffffffffL; }

    static long u64(byte[] b, int at) { return u32(b, at) | u32(b, at + 4) << 32; }
}
