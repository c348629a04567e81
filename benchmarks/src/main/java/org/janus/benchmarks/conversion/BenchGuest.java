package org.janus.benchmarks.conversion;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.HdrHistogram.Histogram;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.janus.memory.api.RamRegion;

/**
 * The guest of the conversion benchmark: each vCPU takes its share of the one RAM region (the i-th of n parts, so
 * vCPUs never touch each other's pages), writes every 4 KiB page of it while shared (populated), then converts its
 * units of {@code unit} bytes one after the other to private and back with MAP_GPA_RANGE (the page-size code of the
 * unit), each conversion followed by one write into every 4 KiB page of the unit, as a guest using the memory does
 * (on legacy that write is what allocates the new face). Per conversion it times the request (MAP_GPA_RANGE until it
 * returns: the exit, Janus, the ioctls, the resume) and the touch separately, and counts, untimed, the pages the
 * conversion and its touch allocated in the memfds behind the unit ({@link FileExtents}, range by range).
 */
final class BenchGuest implements GuestProgram {
    static final long K4 = 4096;

    /** What one vCPU measured. */
    static final class Measured {
        final Histogram request = new Histogram(3_600_000_000_000L, 3);
        final Histogram total = new Histogram(3_600_000_000_000L, 3);
        /** MAP_GPA_RANGE to shared of a page that is shared: the exit round trip with the least conversion work. */
        final Histogram noop = new Histogram(3_600_000_000_000L, 3);
        long conversions;
        long requestNanos;
        long totalNanos;
        long pagesAllocated;
        long pagesFreed;
    }

    /** The factory the benchmark registers; results by vCPU. */
    static final class Factory implements GuestProgramFactory {
        final long unit;
        final long conversions;
        final String memfdPrefixShared;
        final String memfdPrefixPrivate;
        final Map<Integer, Measured> results = new ConcurrentHashMap<>();

        Factory(long unit, long conversions, String memfdPrefixShared, String memfdPrefixPrivate) {
            this.unit = unit;
            this.conversions = conversions;
            this.memfdPrefixShared = memfdPrefixShared;
            this.memfdPrefixPrivate = memfdPrefixPrivate;
        }

        @Override public List<SpecProblem> validate(GuestProgramContext context) { return List.of(); }

        @Override public GuestProgram create(GuestProgramContext context) { return new BenchGuest(this, context); }
    }

    private final Factory f;
    private final GuestProgramContext context;

    BenchGuest(Factory f, GuestProgramContext context) {
        this.f = f;
        this.context = context;
    }

    @Override public void run(GuestCpu cpu) {
        RamRegion r = context.ram().get(0);
        int n = context.vcpuCount();
        int id = cpu.vcpuId();
        long unitsTotal = r.size() / f.unit;
        long first = unitsTotal * id / n, end = unitsTotal * (id + 1) / n;
        if (end <= first) throw new IllegalStateException("vcpu " + id + " has no whole unit of " + f.unit + " bytes");
        long sliceStart = r.gpa() + first * f.unit, sliceEnd = r.gpa() + end * f.unit;
        byte[] word = new byte[8];
        for (long g = sliceStart; g < sliceEnd; g += K4) {
            word[0] = (byte) g;
            word[1] = (byte) (g >>> 12);
            cpu.write(g, word);
        }
        // The memfds exist once the VM does; their names say which face they hold.
        List<FileExtents.Memfd> shared = f.memfdPrefixShared == null ? List.of() : FileExtents.memfds(f.memfdPrefixShared);
        List<FileExtents.Memfd> priv = f.memfdPrefixPrivate == null ? List.of() : FileExtents.memfds(f.memfdPrefixPrivate);
        Measured m = new Measured();
        long code = f.unit == K4 ? Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K : f.unit == (2L << 20) ? Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M
                : Hypercalls.MAP_GPA_RANGE_PAGE_SZ_1G;
        long u = first;
        boolean toPrivate = true;
        for (long c = 0; c < f.conversions; c++) {
            long gpa = r.gpa() + u * f.unit;
            long off = gpa - r.gpa();
            long beforeShared = count(shared, off), beforePrivate = count(priv, off);
            long attrs = code | (toPrivate ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : Hypercalls.MAP_GPA_RANGE_DECRYPTED);
            long t0 = System.nanoTime();
            long ret = cpu.mapGpaRange(gpa, f.unit / K4, attrs);
            long t1 = System.nanoTime();
            if (ret != 0) throw new IllegalStateException("vcpu " + id + ": MAP_GPA_RANGE of 0x" + Long.toHexString(gpa) + " answered " + ret);
            for (long g = gpa; g < gpa + f.unit; g += K4) {
                word[0] = (byte) c;
                cpu.write(g, word);
            }
            long t2 = System.nanoTime();
            long afterShared = count(shared, off), afterPrivate = count(priv, off);
            m.pagesAllocated += Math.max(0, afterShared - beforeShared) / K4 + Math.max(0, afterPrivate - beforePrivate) / K4;
            m.pagesFreed += Math.max(0, beforeShared - afterShared) / K4 + Math.max(0, beforePrivate - afterPrivate) / K4;
            m.request.recordValue(t1 - t0);
            m.total.recordValue(t2 - t0);
            m.requestNanos += t1 - t0;
            m.totalNanos += t2 - t0;
            m.conversions++;
            // Each unit goes to private and straight back, then the next unit: every conversion finds populated pages.
            if (!toPrivate) u = u + 1 == end ? first : u + 1;
            toPrivate = !toPrivate;
        }
        // The exit round trip alone: requests that change nothing, as many as fit in time. They come after the
        // conversions, so that they run on code as warm as the conversions' and are compared with them fairly.
        boolean firstPagePrivate = !toPrivate && u == first;
        long same = Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K
                | (firstPagePrivate ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : Hypercalls.MAP_GPA_RANGE_DECRYPTED);
        long noops = Math.min(2000, Math.max(50, f.conversions));
        for (long i = 0; i < noops; i++) {
            long t0 = System.nanoTime();
            long ret = cpu.mapGpaRange(sliceStart, 1, same);
            m.noop.recordValue(System.nanoTime() - t0);
            if (ret != 0) throw new IllegalStateException("vcpu " + id + ": a MAP_GPA_RANGE that changes nothing answered " + ret);
        }
        f.results.put(id, m);
        cpu.hlt();
    }

    private long count(List<FileExtents.Memfd> fds, long off) {
        long sum = 0;
        for (FileExtents.Memfd fd : fds) sum += FileExtents.allocated(fd.fd(), off, f.unit);
        return sum;
    }
}
