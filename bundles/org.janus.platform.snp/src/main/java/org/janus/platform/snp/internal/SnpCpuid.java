package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.Kvm;
import org.janus.platform.snp.measure.CpuSignature;

/**
 * The CPUID an SEV-SNP guest gets: what KVM supports, with the vCPU model's signature in leaf 1, set on each vCPU
 * with KVM_SET_CPUID2 and written into the CPUID page, whose entries the firmware checks against the processor.
 *
 * <p>CPUID page layout (SEV-SNP firmware ABI, "CPUID Page"; Linux struct snp_cpuid_table): u32 count, 12 reserved
 * bytes, then up to 64 entries of 48 bytes: u32 EAX_IN, u32 ECX_IN, u64 XCR0_IN, u64 XSS_IN, u32 EAX, EBX, ECX,
 * EDX, u64 reserved.
 */
final class SnpCpuid {
    /** KVM_MAX_CPUID_ENTRIES. */
    static final int MAX_KVM_ENTRIES = 256;
    static final int MAX_PAGE_ENTRIES = 64;
    private static final int HEADER = 16;
    private static final int ENTRY = 48;
    private static final int PAGE = 4096;

    private SnpCpuid() {
    }

    static List<CpuidEntry> forModel(Kvm kvm, CpuSignature cpu) {
        List<CpuidEntry> entries = new ArrayList<>();
        for (CpuidEntry e : kvm.getSupportedCpuid(MAX_KVM_ENTRIES)) {
            entries.add(e.function() == 1
                    ? new CpuidEntry(e.function(), e.index(), e.flags(), cpu.eax(), e.ebx(), e.ecx(), e.edx())
                    : e);
        }
        return List.copyOf(entries);
    }

    /**
     * @throws IllegalArgumentException when there are more entries than the page holds
     */
    static byte[] page(List<CpuidEntry> entries) {
        if (entries.size() > MAX_PAGE_ENTRIES) throw new IllegalArgumentException(entries.size()
                + " CPUID entries do not fit the SNP CPUID page, which holds " + MAX_PAGE_ENTRIES);
        ByteBuffer page = ByteBuffer.allocate(PAGE).order(ByteOrder.LITTLE_ENDIAN);
        page.putInt(0, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry e = entries.get(i);
            int at = HEADER + i * ENTRY;
            boolean indexed = (e.flags() & CpuidEntry.FLAG_SIGNIFCANT_INDEX) != 0;
            page.putInt(at, e.function()).putInt(at + 4, indexed ? e.index() : 0);
            // Leaf 0xD sub-leaves 0 and 1 report sizes for an XCR0/XSS value: the reset one, x87 only, no supervisor state.
            if (e.function() == 0xD && (e.index() == 0 || e.index() == 1)) page.putLong(at + 8, 1);
            page.putInt(at + 24, e.eax()).putInt(at + 28, e.ebx()).putInt(at + 32, e.ecx()).putInt(at + 36, e.edx());
        }
        return page.array();
    }

    /** Entries whose outputs differ between a CPUID page and the firmware's corrected copy, for an error message. */
    static List<String> mismatches(byte[] sent, byte[] corrected) {
        List<String> out = new ArrayList<>();
        ByteBuffer a = ByteBuffer.wrap(sent).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer b = ByteBuffer.wrap(corrected).order(ByteOrder.LITTLE_ENDIAN);
        int count = Math.min(a.getInt(0), MAX_PAGE_ENTRIES);
        String[] regs = {"eax", "ebx", "ecx", "edx"};
        for (int i = 0; i < count; i++) {
            int at = HEADER + i * ENTRY;
            for (int r = 0; r < regs.length; r++) {
                int want = a.getInt(at + 24 + 4 * r);
                int got = b.getInt(at + 24 + 4 * r);
                if (want != got) out.add(String.format("leaf 0x%x.%d %s: asked 0x%08x, the processor allows 0x%08x",
                        a.getInt(at), a.getInt(at + 4), regs[r], want, got));
            }
        }
        return out;
    }
}
