package org.janus.benchmarks.memory;

import java.util.List;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.janus.memory.api.RamRegion;

/**
 * {@code round-trip}: each vCPU writes every 4 KiB page of its share of RAM while shared, then converts it 2 MiB at a
 * time to private, writes every page, converts it back to shared and writes every page again: every page of the guest
 * has been used on both sides, which is where legacy without discard holds two pages per guest page.
 */
final class RoundTripGuest implements GuestProgram {
    static final long K4 = 4096, M2 = 2L << 20;

    static final class Factory implements GuestProgramFactory {
        @Override public List<SpecProblem> validate(GuestProgramContext context) { return List.of(); }

        @Override public GuestProgram create(GuestProgramContext context) { return new RoundTripGuest(context); }
    }

    private final GuestProgramContext context;

    RoundTripGuest(GuestProgramContext context) { this.context = context; }

    @Override public void run(GuestCpu cpu) {
        byte[] word = {1, 2, 3, 4, 5, 6, 7, 8};
        for (RamRegion r : context.ram()) {
            long units = r.size() / M2;
            long first = r.gpa() + units * cpu.vcpuId() / context.vcpuCount() * M2;
            long end = r.gpa() + units * (cpu.vcpuId() + 1) / context.vcpuCount() * M2;
            for (long g = first; g < end; g += K4) cpu.write(g, word);
            for (long u = first; u < end; u += M2) {
                convert(cpu, u, true);
                for (long g = u; g < u + M2; g += K4) cpu.write(g, word);
                convert(cpu, u, false);
                for (long g = u; g < u + M2; g += K4) cpu.write(g, word);
            }
        }
        cpu.hlt();
    }

    private static void convert(GuestCpu cpu, long gpa, boolean toPrivate) {
        long ret = cpu.mapGpaRange(gpa, M2 / K4, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M
                | (toPrivate ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : Hypercalls.MAP_GPA_RANGE_DECRYPTED));
        if (ret != 0) throw new IllegalStateException("round-trip: MAP_GPA_RANGE of 0x" + Long.toHexString(gpa) + " answered " + ret);
    }
}
