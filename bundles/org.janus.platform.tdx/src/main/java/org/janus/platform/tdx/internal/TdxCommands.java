package org.janus.platform.tdx.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.CpuidEntry;

/** The structs of the TDX sub-commands of KVM_MEMORY_ENCRYPT_OP (kvm-uapi §6.2), as the bytes a TdxCommand carries. */
final class TdxCommands {
    static final int CAPABILITIES_SIZE = 2056;
    static final int CAPABILITIES_CPUID = 2048;
    static final int INIT_VM_SIZE = 264;
    static final int INIT_VM_CPUID = 256;
    static final int CPUID_ENTRY = 40;
    static final int INIT_MEM_REGION_SIZE = 24;
    static final int MEASUREMENT_SIZE = 48;
    /** KVM_MAX_CPUID_ENTRIES: room for as many configurable leaves as KVM could report. */
    static final int MAX_CPUID_ENTRIES = 256;

    private TdxCommands() {}

    /** What KVM_TDX_CAPABILITIES reported. */
    record Capabilities(long supportedAttributes, long supportedXfam, List<CpuidEntry> configurableCpuid) {}

    /** A kvm_tdx_capabilities buffer with room for {@code entries} CPUID leaves. */
    static byte[] capabilitiesBuffer(int entries) {
        byte[] b = new byte[CAPABILITIES_SIZE + entries * CPUID_ENTRY];
        le(b).putInt(CAPABILITIES_CPUID, entries);
        return b;
    }

    static Capabilities capabilities(byte[] b) {
        ByteBuffer l = le(b);
        int n = l.getInt(CAPABILITIES_CPUID);
        List<CpuidEntry> entries = new ArrayList<>();
        for (int i = 0; i < n; i++) entries.add(entry(l, CAPABILITIES_SIZE + i * CPUID_ENTRY));
        return new Capabilities(l.getLong(0), l.getLong(8), List.copyOf(entries));
    }

    static byte[] initVm(long attributes, long xfam, byte[] mrConfigId, byte[] mrOwner, byte[] mrOwnerConfig, List<CpuidEntry> cpuid) {
        byte[] b = new byte[INIT_VM_SIZE + cpuid.size() * CPUID_ENTRY];
        ByteBuffer l = le(b);
        l.putLong(0, attributes).putLong(8, xfam);
        if (mrConfigId != null) l.put(16, mrConfigId);
        if (mrOwner != null) l.put(64, mrOwner);
        if (mrOwnerConfig != null) l.put(112, mrOwnerConfig);
        l.putInt(INIT_VM_CPUID, cpuid.size());
        for (int i = 0; i < cpuid.size(); i++) {
            CpuidEntry e = cpuid.get(i);
            int at = INIT_VM_SIZE + i * CPUID_ENTRY;
            l.putInt(at, e.function()).putInt(at + 4, e.index()).putInt(at + 8, e.flags()).putInt(at + 12, e.eax())
                    .putInt(at + 16, e.ebx()).putInt(at + 20, e.ecx()).putInt(at + 24, e.edx());
        }
        return b;
    }

    static byte[] memRegion(long sourceAddr, long gpa, long pages) {
        byte[] b = new byte[INIT_MEM_REGION_SIZE];
        le(b).putLong(0, sourceAddr).putLong(8, gpa).putLong(16, pages);
        return b;
    }

    static long regionGpa(byte[] b) { return le(b).getLong(8); }

    static long regionPages(byte[] b) { return le(b).getLong(16); }

    private static CpuidEntry entry(ByteBuffer l, int at) {
        return new CpuidEntry(l.getInt(at), l.getInt(at + 4), l.getInt(at + 8), l.getInt(at + 12), l.getInt(at + 16),
                l.getInt(at + 20), l.getInt(at + 24));
    }

    private static ByteBuffer le(byte[] b) { return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN); }

    /** A TDX module status (kvm_tdx_cmd.hw_error) for messages. */
    static String status(long hwError) { return String.format("TDX module status 0x%016x", hwError); }
}
