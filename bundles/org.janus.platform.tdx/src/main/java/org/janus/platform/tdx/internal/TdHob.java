package org.janus.platform.tdx.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.janus.platform.api.PlatformSpec.RamRange;

/**
 * The TD HOB a VMM writes into TDVF's TD_HOB section, whose address the vCPUs get in RCX (KVM_TDX_INIT_VCPU): a PI
 * hand-off table, a resource descriptor per memory range TDVF may use, and the end of the list (UEFI PI, HOB
 * formats; the layout QEMU's tdvf_hob_create writes). The ranges are the guest's RAM: the parts the launch adds to the
 * TD (the TD_HOB and TEMP_MEM sections) as accepted system memory, the rest as unaccepted memory, which TDVF accepts
 * (TDG.MEM.PAGE.ACCEPT) before it uses it; without them TDVF would find no memory beyond its own sections. TD_HOB and
 * TEMP_MEM sections outside every RAM region (a spec whose memory map is not known) are listed as accepted memory
 * alone. The HOB is not measured into MRTD unless its section says so.
 */
final class TdHob {
    static final int TYPE_HANDOFF = 0x0001;
    static final int TYPE_RESOURCE_DESCRIPTOR = 0x0003;
    static final int TYPE_END_OF_LIST = 0xffff;
    static final int HANDOFF_VERSION = 0x0009;
    static final int HANDOFF_SIZE = 56;
    static final int RESOURCE_SIZE = 48;
    static final int END_SIZE = 8;
    /** EFI_RESOURCE_SYSTEM_MEMORY. */
    static final int RESOURCE_SYSTEM_MEMORY = 0;
    /** EFI_RESOURCE_MEMORY_UNACCEPTED: RAM the guest must accept before use. */
    static final int RESOURCE_MEMORY_UNACCEPTED = 7;
    /** PRESENT | INITIALIZED | TESTED: the attributes TDVF expects on both kinds. */
    static final int ATTRIBUTE_TDVF_PRIVATE = 0x7;

    /** One resource descriptor: [gpa, gpa + size) of a kind. */
    record Resource(int type, long gpa, long size) {}

    private TdHob() {}

    /** The HOB for {@code image} in a guest with RAM {@code ram}, as many bytes as its TD_HOB section has (zero after the list). */
    static byte[] build(TdvfImage image, List<RamRange> ram) {
        TdvfSection hob = image.hob();
        List<Resource> ranges = resources(image, ram);
        int length = HANDOFF_SIZE + ranges.size() * RESOURCE_SIZE + END_SIZE;
        if (length > hob.size()) throw new IllegalStateException("the TD HOB needs " + length + " bytes for " + ranges.size()
                + " memory ranges, the TD_HOB section has " + hob.size());
        ByteBuffer b = ByteBuffer.allocate((int) hob.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) TYPE_HANDOFF).putShort((short) HANDOFF_SIZE).putInt(0);
        b.putInt(HANDOFF_VERSION).putInt(0);                  // version, boot mode (BOOT_WITH_FULL_CONFIGURATION)
        b.putLong(0).putLong(0).putLong(0).putLong(0);          // EfiMemoryTop/Bottom, EfiFreeMemoryTop/Bottom: unused
        b.putLong(hob.gpa() + length - END_SIZE);               // EfiEndOfHobList: the GPA of the end-of-list HOB
        for (Resource r : ranges) {
            b.putShort((short) TYPE_RESOURCE_DESCRIPTOR).putShort((short) RESOURCE_SIZE).putInt(0);
            b.put(new byte[16]);                                // owner GUID: zero
            b.putInt(r.type()).putInt(ATTRIBUTE_TDVF_PRIVATE);
            b.putLong(r.gpa()).putLong(r.size());
        }
        b.putShort((short) TYPE_END_OF_LIST).putShort((short) END_SIZE).putInt(0);
        return b.array();
    }

    /**
     * The memory ranges of the HOB, by address: each RAM region cut at the TD_HOB and TEMP_MEM sections in it (those
     * accepted, the rest unaccepted), and the sections outside RAM as accepted memory.
     */
    static List<Resource> resources(TdvfImage image, List<RamRange> ram) {
        List<TdvfSection> added = image.sections().stream()
                .filter(s -> s.type() == TdvfSection.Type.TD_HOB || s.type() == TdvfSection.Type.TEMP_MEM)
                .sorted(Comparator.comparingLong(TdvfSection::gpa)).toList();
        List<Resource> out = new ArrayList<>();
        for (RamRange r : ram) {
            long at = r.gpa();
            for (TdvfSection s : added) {
                long start = Math.max(s.gpa(), r.gpa());
                long end = Math.min(s.gpa() + s.size(), r.end());
                if (start >= end) continue;
                if (at < start) out.add(new Resource(RESOURCE_MEMORY_UNACCEPTED, at, start - at));
                out.add(new Resource(RESOURCE_SYSTEM_MEMORY, start, end - start));
                at = end;
            }
            if (at < r.end()) out.add(new Resource(RESOURCE_MEMORY_UNACCEPTED, at, r.end() - at));
        }
        for (TdvfSection s : added) {
            boolean inRam = ram.stream().anyMatch(r -> s.gpa() < r.end() && r.gpa() < s.gpa() + s.size());
            if (!inRam) out.add(new Resource(RESOURCE_SYSTEM_MEMORY, s.gpa(), s.size()));
        }
        out.sort(Comparator.comparingLong(Resource::gpa));
        return out;
    }
}
