package org.janus.machine.internal;

import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.VcpuExit;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.PageState;

/**
 * One request to make [gpa, gpa+size) private or shared, whatever asked for it. Decoding is strict: a request
 * that does not say exactly what it means is {@link Invalid} and touches nothing.
 */
public sealed interface ConversionRequest {

    /** Where a request came from. */
    enum Source { MEMORY_FAULT, MAP_GPA_RANGE, PLATFORM }

    /** A well-formed request. */
    record Convert(GpaRange range, PageState target, Source source) implements ConversionRequest {}

    /** A malformed one, with what is wrong; the guest is answered EINVAL. */
    record Invalid(String reason, Source source) implements ConversionRequest {}

    long PAGE_4K = 4096;

    /**
     * A KVM_EXIT_MEMORY_FAULT: the access kind (the PRIVATE flag) is the state the guest wants. Unknown flag bits
     * make it invalid, as they would mean the kernel reports something this VMM does not understand.
     */
    static ConversionRequest fromMemoryFault(VcpuExit.MemoryFault fault) {
        if ((fault.flags() & ~ExitReason.MEMORY_EXIT_FLAG_PRIVATE) != 0)
            return new Invalid("memory fault with unknown flags 0x" + Long.toHexString(fault.flags()), Source.MEMORY_FAULT);
        return checked(fault.gpa(), fault.size(), PAGE_4K, fault.isPrivate() ? PageState.PRIVATE : PageState.SHARED,
                Source.MEMORY_FAULT);
    }

    /**
     * A KVM_HC_MAP_GPA_RANGE hypercall: a0 = GPA, a1 = number of 4 KiB pages, a2 = attributes, where bits 3:0 give
     * the guest's page size (4K, 2M, 1G: the range must be aligned to it), bit 4 says encrypted (private) or not,
     * and bits 63:5 must be zero.
     */
    static ConversionRequest fromMapGpaRange(VcpuExit.Hypercall call) {
        if (call.nr() != Hypercalls.KVM_HC_MAP_GPA_RANGE)
            return new Invalid("hypercall " + call.nr() + " is not KVM_HC_MAP_GPA_RANGE", Source.MAP_GPA_RANGE);
        long gpa = call.arg(0);
        long pages = call.arg(1);
        long attrs = call.arg(2);
        if ((attrs & Hypercalls.MAP_GPA_RANGE_RESERVED_MASK) != 0)
            return new Invalid("MAP_GPA_RANGE attributes 0x" + Long.toHexString(attrs) + " set reserved bits 63:5", Source.MAP_GPA_RANGE);
        long pageSize;
        int sizeCode = (int) (attrs & Hypercalls.MAP_GPA_RANGE_PAGE_SZ_MASK);
        if (sizeCode == Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K) pageSize = PAGE_4K;
        else if (sizeCode == Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M) pageSize = 2L << 20;
        else if (sizeCode == Hypercalls.MAP_GPA_RANGE_PAGE_SZ_1G) pageSize = 1L << 30;
        else return new Invalid("MAP_GPA_RANGE page size code " + sizeCode + " is not 4K (0), 2M (1) or 1G (2)", Source.MAP_GPA_RANGE);
        if (pages <= 0 || pages > (Long.MAX_VALUE / PAGE_4K))
            return new Invalid("MAP_GPA_RANGE of " + pages + " pages", Source.MAP_GPA_RANGE);
        PageState target = (attrs & Hypercalls.MAP_GPA_RANGE_ENCRYPTED) != 0 ? PageState.PRIVATE : PageState.SHARED;
        return checked(gpa, pages * PAGE_4K, pageSize, target, Source.MAP_GPA_RANGE);
    }

    /** A request from a platform (e.g. launch, pKVM share/unshare), checked like the others. */
    static ConversionRequest fromPlatform(long gpa, long size, PageState target) {
        return checked(gpa, size, PAGE_4K, target, Source.PLATFORM);
    }

    private static ConversionRequest checked(long gpa, long size, long alignment, PageState target, Source source) {
        if (size <= 0) return new Invalid("empty range at 0x" + Long.toHexString(gpa), source);
        if (gpa < 0 || gpa + size < gpa) return new Invalid("range at 0x" + Long.toHexString(gpa) + " overflows", source);
        if (((gpa | size) & (alignment - 1)) != 0)
            return new Invalid(GpaRange.of(gpa, size) + " is not aligned to its page size 0x" + Long.toHexString(alignment), source);
        return new Convert(GpaRange.of(gpa, size), target, source);
    }
}
