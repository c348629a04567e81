package org.janus.machine.internal;

import static org.janus.machine.internal.SimMachine.G;
import static org.janus.machine.internal.SimMachine.M;
import static org.janus.machine.internal.SimMachine.P;

import java.util.List;
import java.util.Random;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.VcpuExit;

/**
 * Random conversion exits for the standard layout ({@link SimMachine.Layout#standard}): mostly sensible requests
 * (4K, 2M and 1G pages, ranges that cross regions, the MMIO hole and unassigned space), and now and then each way
 * of getting one wrong (reserved bits, unknown page size codes, npages 0 or overflowing, misalignment, unknown
 * fault flags, another hypercall).
 */
final class ExitGenerator {
    private static final long[] ANCHORS = {0, 2 * M, 6 * M, 8 * M - P, 8 * M, 10 * M, 12 * M - P, 12 * M, 13 * M, 14 * M,
            G - 2 * M, G, G + 2 * M, 2 * G - 2 * M, 2 * G - P, 2 * G, 100 * M};

    private final Random random;
    private final List<SimMachine.Region> regions;

    ExitGenerator(Random random, SimMachine machine) {
        this.random = random;
        this.regions = machine.regions;
    }

    VcpuExit next() { return random.nextInt(10) < 7 ? hypercall() : fault(); }

    /** A random page of a random region. */
    long ramPage() {
        SimMachine.Region r = regions.get(random.nextInt(regions.size()));
        return r.gpa(random.nextInt(r.pages()));
    }

    private long start(long align) {
        long gpa = switch (random.nextInt(10)) {
            case 0, 1, 2, 3, 4 -> ramPage();
            case 5, 6, 7 -> ANCHORS[random.nextInt(ANCHORS.length)];
            case 8 -> 12 * M + random.nextInt((int) (2 * M / P)) * P;
            default -> (random.nextLong() & Long.MAX_VALUE) % (2 * G + 16 * M) & -P;
        };
        return gpa & -align;
    }

    private long size(long align) {
        if (align == G) return random.nextInt(8) == 0 ? 2 * G : G;
        if (align == 2 * M) return 2 * M * (1 + random.nextInt(3));
        return switch (random.nextInt(10)) {
            case 0, 1, 2, 3, 4 -> P * (1 + random.nextInt(8));
            case 5, 6 -> P * (1 + random.nextInt(600));
            case 7, 8 -> 2 * M * (1 + random.nextInt(3));
            default -> new long[] {8 * M, 4 * M, G}[random.nextInt(3)];
        };
    }

    VcpuExit.Hypercall hypercall() {
        int code = random.nextInt(10) < 7 ? 0 : random.nextInt(3) < 2 ? 1 : 2;
        long align = code == 0 ? P : code == 1 ? 2 * M : G;
        long gpa = code == 2 && random.nextBoolean() ? G : start(align);
        long npages = size(align) / P;
        long attrs = code | (random.nextBoolean() ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : 0);
        long nr = Hypercalls.KVM_HC_MAP_GPA_RANGE;
        switch (random.nextInt(36)) {
            case 0 -> attrs |= 1L << (5 + random.nextInt(59));
            case 1 -> attrs = (attrs & ~0xfL) | (3 + random.nextInt(13));
            case 2 -> npages = 0;
            case 3 -> npages = random.nextBoolean() ? -1L : 1L << 62;
            case 4 -> gpa += P;
            case 5 -> npages += 1;
            case 6 -> gpa |= 1 + random.nextInt((int) P - 1);
            case 7 -> nr = 11;
            case 8 -> gpa = -P;
            default -> { }
        }
        return new VcpuExit.Hypercall(nr, new long[] {gpa, npages, attrs, 0, 0, 0}, Hypercalls.EXIT_HYPERCALL_LONG_MODE);
    }

    VcpuExit.MemoryFault fault() {
        long size = random.nextInt(8) == 0 ? 2 * M : P;
        long gpa = start(size == P ? P : 2 * M);
        long flags = random.nextBoolean() ? ExitReason.MEMORY_EXIT_FLAG_PRIVATE : 0;
        switch (random.nextInt(30)) {
            case 0 -> flags |= 1L << random.nextInt(3);
            case 1 -> flags |= 1L << (4 + random.nextInt(60));
            case 2 -> gpa += 1 + random.nextInt((int) P - 1);
            case 3 -> size = 0;
            case 4 -> size = P / 2;
            default -> { }
        }
        return SimMachine.fault(gpa, size, flags);
    }
}
