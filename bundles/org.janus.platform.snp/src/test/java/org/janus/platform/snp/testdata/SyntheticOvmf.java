package org.janus.platform.snp.testdata;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Builds small firmware images laid out as OVMF lays out its reset vector area: a footer GUID table ending 32 bytes
 * before the image end, optionally SEV metadata. For tests of parsing and of refusals, including malformed images.
 */
public final class SyntheticOvmf {
    public static final UUID FOOTER = UUID.fromString("96b582de-1fb2-45f7-baea-a366c55a082d");
    public static final UUID SEV_METADATA = UUID.fromString("dc886566-984a-4798-a75e-5585a7bf67cc");
    public static final UUID SEV_ES_RESET_BLOCK = UUID.fromString("00f771de-1a7e-4fcb-890e-68c77e2fb44e");
    public static final UUID SEV_HASH_TABLE = UUID.fromString("7255371f-3a3b-4b04-927b-1da6efa8d454");
    public static final int SNP_SEC_MEM = 1;
    public static final int SNP_SECRETS = 2;
    public static final int CPUID = 3;
    public static final int SNP_KERNEL_HASHES = 0x10;

    /** A GUID table entry: its data and, when not null, a length field that lies. */
    public record Entry(UUID guid, byte[] data, Integer lengthOverride) {
        public Entry(UUID guid, byte[] data) {
            this(guid, data, null);
        }
    }

    /** One SEV metadata section as OVMF encodes it. */
    public record Section(long gpa, long length, int type) {
    }

    private int size = 64 * 1024;
    private final List<Entry> entries = new ArrayList<>();
    private Integer tableLengthOverride;
    private boolean footer = true;
    private List<Section> sections;
    private String signature = "ASEV";
    private int version = 1;
    private int metadataOffset = 0x1000;
    private Integer metadataOffsetOverride;

    public SyntheticOvmf size(int bytes) {
        this.size = bytes;
        return this;
    }

    /** Entries in image order: the last one added sits next to the footer. */
    public SyntheticOvmf entry(Entry entry) {
        entries.add(entry);
        return this;
    }

    /**
     * The image the direct-boot golden digests in measurements.json were computed for: 64 KiB, the SEV metadata of
     * an OvmfPkg/AmdSev build (SEC memory, secrets, CPUID, kernel hashes at Debian OVMF's addresses) and the SEV hash
     * table 0xc00 bytes into the kernel-hashes page, as AmdSevX64.fdf reserves it.
     */
    public static SyntheticOvmf amdSevLike() {
        return new SyntheticOvmf()
                .sevMetadata(new Section(0x800000, 0x9000, SNP_SEC_MEM), new Section(0x80d000, 0x1000, SNP_SECRETS),
                        new Section(0x80e000, 0x1000, CPUID), new Section(0x80f000, 0x1000, SNP_KERNEL_HASHES))
                .sevHashTable(0x80fc00, 0x400)
                .resetEip(0x80b004);
    }

    /** The SEV hash table entry: where OVMF looks for the hashes of a measured direct boot. */
    public SyntheticOvmf sevHashTable(long gpa, long size) {
        byte[] data = new byte[8];
        System.arraycopy(le32(gpa), 0, data, 0, 4);
        System.arraycopy(le32(size), 0, data, 4, 4);
        return entry(new Entry(SEV_HASH_TABLE, data));
    }

    public SyntheticOvmf resetEip(long eip) {
        return entry(new Entry(SEV_ES_RESET_BLOCK, le32(eip)));
    }

    /** SEV metadata with these sections, placed 0x1000 bytes before the image end, and its GUID table entry. */
    public SyntheticOvmf sevMetadata(Section... sections) {
        this.sections = List.of(sections);
        return this;
    }

    public SyntheticOvmf metadataSignature(String signature) {
        this.signature = signature;
        return this;
    }

    public SyntheticOvmf metadataVersion(int version) {
        this.version = version;
        return this;
    }

    public SyntheticOvmf metadataOffsetFromEnd(int offset) {
        this.metadataOffsetOverride = offset;
        return this;
    }

    public SyntheticOvmf tableLength(int length) {
        this.tableLengthOverride = length;
        return this;
    }

    public SyntheticOvmf withoutFooter() {
        this.footer = false;
        return this;
    }

    public byte[] build() {
        ByteBuffer image = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> all = new ArrayList<>(entries);
        if (sections != null) {
            int at = size - metadataOffset;
            image.position(at);
            image.put(signature.getBytes(StandardCharsets.US_ASCII));
            image.putInt(16 + 12 * sections.size()).putInt(version).putInt(sections.size());
            for (Section section : sections) {
                image.putInt((int) section.gpa()).putInt((int) section.length()).putInt(section.type());
            }
            int offset = metadataOffsetOverride != null ? metadataOffsetOverride : metadataOffset;
            all.add(0, new Entry(SEV_METADATA, le32(offset)));
        }
        if (!footer) {
            return image.array();
        }
        int footerEnd = size - 32;
        int tableLength = 18;
        for (Entry entry : all) {
            tableLength += entry.data().length + 18;
        }
        int at = footerEnd - tableLength;
        image.position(at);
        for (Entry entry : all) {
            int length = entry.lengthOverride() != null ? entry.lengthOverride() : entry.data().length + 18;
            image.put(entry.data()).putShort((short) length).put(guidBytes(entry.guid()));
        }
        image.putShort((short) (tableLengthOverride != null ? tableLengthOverride : tableLength));
        image.put(guidBytes(FOOTER));
        return image.array();
    }

    /** EFI byte order, written out field by field so that the test does not share code with the parser. */
    public static byte[] guidBytes(UUID guid) {
        String hex = guid.toString().replace("-", "");
        byte[] b = new byte[16];
        for (int i = 0; i < 16; i++) {
            b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return new byte[] {b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6],
                b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]};
    }

    public static byte[] le32(long value) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) value).array();
    }
}
