package org.janus.guests.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramContext.AccessModel;
import org.janus.memory.api.RamRegion;

/**
 * Converts random ranges of RAM back and forth and checks that the memory says what the conversions promise.
 * Each vCPU owns a slice of every RAM region it is given (the i-th of n equal parts), so vCPUs never touch each other's
 * pages. One iteration picks a page size the slice can hold (4 KiB, 2 MiB, 1 GiB), a run of such pages aligned to
 * it, and then:
 * <ol>
 *   <li>MAP_GPA_RANGE to private (encrypted), with the page-size code of the chosen size, and on SEV-SNP and TDX
 *       the range taken into use as a guest kernel does (PVALIDATE; TDG.MEM.PAGE.ACCEPT);</li>
 *   <li>writes a word derived from (seed, vCPU, iteration, page) into up to {@code pagesPerRange} of its pages,
 *       spread from the first to the last, and reads them back while private;</li>
 *   <li>on SEV-SNP the range's validation rescinded, then MAP_GPA_RANGE to shared;</li>
 *   <li>reads the same words: they must be preserved when the VM converts in place on a software-protected VM, zero
 *       after a legacy conversion there (the shared side is a different page, discarded), and on SEV-SNP and TDX,
 *       whose hardware loses a page's plaintext when it changes owner, anything but the word written.</li>
 * </ol>
 * Any mismatch or refused conversion throws with the vCPU, iteration, range and both values, which ends the VM as
 * FAILED with that message. It then reports on the console and halts.
 */
final class ConversionStormProgram implements GuestProgram {
    static final long K4 = 4096;
    static final long M2 = 2L << 20;
    static final long G1 = 1L << 30;
    /** How often an EAGAIN (a page still pinned on the host) is retried before the guest gives up. */
    static final int EAGAIN_RETRIES = 10;

    /** One page size the storm converts in. */
    record PageSize(String name, long bytes, long code, int maxUnits) {}

    static final List<PageSize> SIZES = List.of(
            new PageSize("4K", K4, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K, 64),
            new PageSize("2M", M2, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M, 4),
            new PageSize("1G", G1, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_1G, 1));

    /** A stretch of RAM this vCPU owns. */
    record Slice(long start, long end) {
        /** How many whole, aligned {@code size} pages it holds, and the first one. */
        long units(long size) { return Math.max(0, (Math.floorDiv(end, size) * size - firstAligned(size)) / size); }

        long firstAligned(long size) { return Math.floorDiv(start + size - 1, size) * size; }
    }

    private final GuestProgramContext context;
    private final List<RamRegion> ram;
    private final long seed;
    private final long iterations;
    private final List<PageSize> sizes;
    private final int pagesPerRange;

    ConversionStormProgram(GuestProgramContext context, List<RamRegion> ram, long seed, long iterations, List<PageSize> sizes,
                           int pagesPerRange) {
        this.context = context;
        this.ram = List.copyOf(ram);
        this.seed = seed;
        this.iterations = iterations;
        this.sizes = sizes;
        this.pagesPerRange = pagesPerRange;
    }

    /** The slices of vCPU {@code vcpu}: the vcpu-th of {@code count} page-aligned parts of each region. */
    static List<Slice> slices(List<RamRegion> ram, int vcpu, int count) {
        List<Slice> out = new ArrayList<>();
        for (RamRegion r : ram) {
            long pages = r.size() / K4;
            long from = r.gpa() + pages * vcpu / count * K4;
            long to = r.gpa() + pages * (vcpu + 1) / count * K4;
            if (to > from) out.add(new Slice(from, to));
        }
        return out;
    }

    @Override public void run(GuestCpu cpu) {
        int vcpu = cpu.vcpuId();
        List<Slice> slices = slices(ram, vcpu, context.vcpuCount());
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + vcpu);
        long conversions = 0;
        long bytes = 0;
        long checked = 0;
        for (long it = 0; it < iterations; it++) {
            // The (slice, size) pairs that fit; validation made sure there is at least one.
            List<long[]> choices = new ArrayList<>();
            for (int s = 0; s < slices.size(); s++)
                for (int z = 0; z < sizes.size(); z++) if (slices.get(s).units(sizes.get(z).bytes()) > 0) choices.add(new long[] {s, z});
            long[] pick = choices.get(random.nextInt(choices.size()));
            Slice slice = slices.get((int) pick[0]);
            PageSize size = sizes.get((int) pick[1]);
            long units = slice.units(size.bytes());
            long n = 1 + random.nextLong(Math.min(units, size.maxUnits()));
            long start = slice.firstAligned(size.bytes()) + random.nextLong(units - n + 1) * size.bytes();
            long length = n * size.bytes();
            String where = "conversion-storm vcpu " + vcpu + ", iteration " + it + ", [0x" + Long.toHexString(start) + ", 0x"
                    + Long.toHexString(start + length) + ") in " + n + " x " + size.name();

            convert(cpu, start, length, size, true, where);
            GuestOps.takePrivate(cpu, context, start, length, where);
            long[] pages = samplePages(start, length);
            for (long page : pages) write(cpu, page, pattern(vcpu, it, page));
            for (long page : pages) {
                long got = read(cpu, page, true);
                long want = pattern(vcpu, it, page);
                if (got != want) throw mismatch(where, page, got, want, "while private, right after writing it");
            }
            GuestOps.releasePrivate(cpu, context, start, length, where);
            convert(cpu, start, length, size, false, where);
            for (long page : pages) {
                long got = read(cpu, page, false);
                long written = pattern(vcpu, it, page);
                switch (context.contents()) {
                    case PRESERVED -> {
                        if (got != written) throw mismatch(where, page, got, written, "after converting back to shared (in place:"
                                + " contents are preserved)");
                    }
                    case ZEROED -> {
                        if (got != 0) throw mismatch(where, page, got, 0, "after converting back to shared (legacy: the shared"
                                + " side was discarded, so it reads zero)");
                    }
                    case LOST -> {
                        if (got == written) throw new IllegalStateException(where + ": the page at 0x" + Long.toHexString(page)
                                + " reads the word written privately, 0x" + Long.toHexString(got) + ", after converting back to"
                                + " shared: the " + context.platform() + " hardware must not show the host the guest's plaintext");
                    }
                }
            }
            conversions += 2;
            bytes += 2 * length;
            checked += pages.length;
        }
        String outcome = switch (context.contents()) {
            case PRESERVED -> "preserved";
            case ZEROED -> "zeroed";
            case LOST -> "lost (never the plaintext: encrypted memory)";
        };
        String report = "conversion-storm vcpu " + vcpu + ": " + conversions + " conversions, " + bytes / K4 + " pages converted, "
                + checked + " pages checked, contents " + outcome + " as expected\n";
        for (byte b : report.getBytes(StandardCharsets.US_ASCII)) cpu.out(context.consolePort(), 1, b & 0xff);
        cpu.hlt();
    }

    private void convert(GuestCpu cpu, long start, long length, PageSize size, boolean toPrivate, String where) {
        long attrs = size.code() | (toPrivate ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : Hypercalls.MAP_GPA_RANGE_DECRYPTED);
        for (int attempt = 0; ; attempt++) {
            long ret = cpu.mapGpaRange(start, length / K4, attrs);
            if (ret == 0) return;
            if (ret == Errno.EAGAIN && attempt < EAGAIN_RETRIES) continue;
            throw new IllegalStateException(where + ": MAP_GPA_RANGE to " + (toPrivate ? "private" : "shared") + " answered " + ret
                    + (ret == -Hypercalls.KVM_ENOSYS ? " (-KVM_ENOSYS: this VM does not let MAP_GPA_RANGE reach the host)"
                    : ret == Errno.EINVAL ? " (EINVAL: refused)" : ret == Errno.EAGAIN ? " (EAGAIN " + EAGAIN_RETRIES + " times)" : ""));
        }
    }

    /** Up to {@code pagesPerRange} 4 KiB pages of the range, evenly spread, first and last included. */
    private long[] samplePages(long start, long length) {
        long pages = length / K4;
        int n = (int) Math.min(pages, pagesPerRange);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) out[i] = start + (n == 1 ? 0 : (pages - 1) * i / (n - 1)) * K4;
        return out;
    }

    private long pattern(int vcpu, long iteration, long page) {
        long x = seed ^ (page * 0xBF58476D1CE4E5B9L) ^ (iteration << 32) ^ ((long) vcpu << 56);
        x = (x ^ (x >>> 31)) * 0x94D049BB133111EBL;
        x ^= x >>> 29;
        return x == 0 ? 1 : x;     // never zero: zero is what a discarded page reads
    }

    /** Where in the page the word goes: varies per page, so a page mixed up with another shows. */
    private static long wordOf(long page) { return page + ((page / K4) % 511) * 8; }

    private void write(GuestCpu cpu, long page, long value) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (value >>> (8 * i));
        if (context.access() == AccessModel.GUEST_CHOSEN) cpu.writePrivate(wordOf(page), b);
        else cpu.write(wordOf(page), b);
    }

    private long read(GuestCpu cpu, long page, boolean privately) {
        byte[] b;
        if (context.access() == AccessModel.GUEST_CHOSEN)
            b = privately ? cpu.readPrivate(wordOf(page), 8) : cpu.readShared(wordOf(page), 8);
        else b = cpu.read(wordOf(page), 8);
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xff);
        return v;
    }

    private static IllegalStateException mismatch(String where, long page, long got, long want, String when) {
        return new IllegalStateException(where + ": the page at 0x" + Long.toHexString(page) + " reads 0x" + Long.toHexString(got)
                + " " + when + ", expected 0x" + Long.toHexString(want));
    }
}
