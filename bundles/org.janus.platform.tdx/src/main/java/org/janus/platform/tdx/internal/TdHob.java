package org.janus.platform.tdx.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The TD HOB a VMM writes into TDVF's TD_HOB section, whose address the vCPUs get in RCX (KVM_TDX_INIT_VCPU): a PI
 * hand-off table, a resource descriptor per memory range TDVF may use, and the end of the list (UEFI PI, HOB
 * formats; the layout QEMU's tdvf_hob_create writes). The ranges are the TDVF sections the launch adds to the TD
 * (TD_HOB and TEMP_MEM), as accepted system memory; the HOB is not measured into MRTD.
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
    /** PRESENT | INITIALIZED | TESTED: private memory already added to the TD. */
    static final int ATTRIBUTE_TDVF_PRIVATE = 0x7;

    private TdHob() {}

    /** The HOB for {@code image}, as many bytes as its TD_HOB section has (zero after the list). */
    static byte[] build(TdvfImage image) {
        TdvfSection hob = image.hob();
        List<TdvfSection> ranges = image.sections().stream()
                .filter(s -> s.type() == TdvfSection.Type.TD_HOB || s.type() == TdvfSection.Type.TEMP_MEM).toList();
        int length = HANDOFF_SIZE + ranges.size() * RESOURCE_SIZE + END_SIZE;
        if (length > hob.size()) throw new IllegalStateException("the TD HOB needs " + length + " bytes, the TD_HOB section has " + hob.size());
        ByteBuffer b = ByteBuffer.allocate((int) hob.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) TYPE_HANDOFF).putShort((short) HANDOFF_SIZE).putInt(0);
        b.putInt(HANDOFF_VERSION).putInt(0);                  // version, boot mode (BOOT_WITH_FULL_CONFIGURATION)
        b.putLong(0).putLong(0).putLong(0).putLong(0);          // EfiMemoryTop/Bottom, EfiFreeMemoryTop/Bottom: unused
        b.putLong(hob.gpa() + length - END_SIZE);               // EfiEndOfHobList: the GPA of the end-of-list HOB
        for (TdvfSection r : ranges) {
            b.putShort((short) TYPE_RESOURCE_DESCRIPTOR).putShort((short) RESOURCE_SIZE).putInt(0);
            b.put(new byte[16]);                                // owner GUID: zero
            b.putInt(RESOURCE_SYSTEM_MEMORY).putInt(ATTRIBUTE_TDVF_PRIVATE);
            b.putLong(r.gpa()).putLong(r.size());
        }
        b.putShort((short) TYPE_END_OF_LIST).putShort((short) END_SIZE).putInt(0);
        return b.array();
    }
}
