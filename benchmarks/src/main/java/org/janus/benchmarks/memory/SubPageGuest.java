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
 * {@code sub-pages}: each vCPU takes its share of RAM 2 MiB at a time, writes every 4 KiB page of it while shared,
 * then converts it to private 4 KiB by 4 KiB (MAP_GPA_RANGE with the 4K page-size code), writing each page once it is
 * private, as a guest accepting memory page by page does. At the end all RAM is private and used; what is left of
 * the shared faces is what the strategy could not give back.
 */
final class SubPageGuest implements GuestProgram {
    static final long K4 = 4096, M2 = 2L << 20;

    static final class Factory implements GuestProgramFactory {
        @Override public List<SpecProblem> validate(GuestProgramContext context) { return List.of(); }

        @Override public GuestProgram create(GuestProgramContext context) { return new SubPageGuest(context); }
    }

    private final GuestProgramContext context;

    SubPageGuest(GuestProgramContext context) { this.context = context; }

    @Override public void run(GuestCpu cpu) {
        byte[] word = {1, 2, 3, 4, 5, 6, 7, 8};
        for (RamRegion r : context.ram()) {
            long units = r.size() / M2;
            long first = r.gpa() + units * cpu.vcpuId() / context.vcpuCount() * M2;
            long end = r.gpa() + units * (cpu.vcpuId() + 1) / context.vcpuCount() * M2;
            for (long u = first; u < end; u += M2) {
                for (long g = u; g < u + M2; g += K4) cpu.write(g, word);
                for (long g = u; g < u + M2; g += K4) {
                    long ret = cpu.mapGpaRange(g, 1, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K | Hypercalls.MAP_GPA_RANGE_ENCRYPTED);
                    if (ret != 0) throw new IllegalStateException("sub-pages: MAP_GPA_RANGE of 0x" + Long.toHexString(g) + " answered " + ret);
                    cpu.write(g, word);
                }
            }
        }
        cpu.hlt();
    }
}
