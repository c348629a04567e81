package org.janus.benchmarks;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryFigures;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;

/**
 * What converting every page of a guest back and forth costs in memory, for each strategy, measured on the
 * software KVM, whose guest memory is real (memfd): allocated bytes from st_blocks, resident bytes from mincore.
 * One region, a software-protected VM. The host writes every page while shared; the region is converted to
 * private in 2 MiB steps, the guest writes every page (as a guest accepting memory does, which is what allocates a
 * private page), and it goes back to shared; then the same with the whole range in one call. Prints one table with
 * the three strategies side by side, and the conversion throughput of each.
 *
 * <p>Usage: {@code ConversionFootprint [MiB] [--out FILE]} (default 1024 MiB); with {@code --out} the results are also
 * written as JSON ({@link Json}) for the report.
 */
public final class ConversionFootprint {
    public static final long MIB = 1L << 20;
    static final long STEP = 2 * MIB;
    private static final long HOST_TAG = 0x4854L << 48;
    private static final long GUEST_TAG = 0x4754L << 48;

    /** A conversion strategy and the kernel profile it runs on. */
    public enum Strategy {
        IN_PLACE("in place", SimProfile.INPLACE),
        LEGACY_DISCARD("legacy, discard", SimProfile.K7_3),
        LEGACY_KEEP("legacy, keep", SimProfile.K7_3);

        final String label;
        final SimProfile profile;

        Strategy(String label, SimProfile profile) {
            this.label = label;
            this.profile = profile;
        }

        public String label() { return label; }

        public SimProfile profile() { return profile; }

        /** A new backend of this strategy, outside a framework. */
        public MemoryBackend newBackend() { return backend(); }

        MemoryBackend backend() {
            return switch (this) {
                case IN_PLACE -> new GuestMemfdBackend();
                case LEGACY_DISCARD -> new LegacyBackend(true);
                case LEGACY_KEEP -> new LegacyBackend(false);
            };
        }
    }

    /** The steps of one run; figures are taken after each. */
    public enum Phase {
        HOST_WROTE("host wrote every page (shared)", false),
        PRIVATE_STEPS("to private in 2 MiB steps", true),
        GUEST_WROTE("guest wrote every page (private)", false),
        SHARED_STEPS("to shared in 2 MiB steps", true),
        HOST_WROTE_AGAIN("host wrote every page again", false),
        PRIVATE_WHOLE("to private, whole range", true),
        GUEST_WROTE_AGAIN("guest wrote every page again", false),
        SHARED_WHOLE("to shared, whole range", true);

        final String label;
        final boolean conversion;

        Phase(String label, boolean conversion) {
            this.label = label;
            this.conversion = conversion;
        }

        public String label() { return label; }
    }

    /**
     * One strategy's run: figures after each phase, GiB/s of each conversion phase, and what the host reads in a
     * page after the first round trip (the guest's word, zero, or its own stale word).
     */
    public record Result(Strategy strategy, Map<Phase, MemoryFigures> figures, Map<Phase, Double> gibPerSecond,
                         String contentsAfterRoundTrip) {}

    private ConversionFootprint() {}

    public static void main(String[] args) {
        long mib = 1024;
        java.nio.file.Path out = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--out") && i + 1 < args.length) out = java.nio.file.Path.of(args[++i]);
            else mib = Long.parseLong(args[i]);
        }
        long size = mib * MIB;
        if (size <= 0 || size % STEP != 0) throw new IllegalArgumentException("the size must be a positive multiple of 2 MiB");
        List<Result> results = run(size);
        print(size, results, System.out);
        if (out != null) org.janus.benchmarks.report.Results.write(out, new Json(size, results));
    }

    /** The results file: the guest size and each strategy's run. */
    public record Json(long size, List<Result> results) {}

    /** Runs every strategy in turn (one after the other, so that at most one guest's memory exists at a time). */
    public static List<Result> run(long size) {
        List<Result> out = new ArrayList<>();
        for (Strategy s : Strategy.values()) out.add(measure(s, size));
        return out;
    }

    static Result measure(Strategy strategy, long size) {
        SimKvm kvm = SimKvm.create(strategy.profile, SimHardware.X86);
        long page = kvm.pageSize();
        Map<Phase, MemoryFigures> figures = new EnumMap<>(Phase.class);
        Map<Phase, Double> speed = new EnumMap<>(Phase.class);
        String contents;
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            GuestRam ram = strategy.backend().create(kvm, vm, new RamRegion("ram", 0, 0, size), PageState.SHARED);
            try (Guest guest = new Guest(vm, page)) {
                hostWriteEveryPage(ram, size, page);
                figures.put(Phase.HOST_WROTE, ram.figures());
                speed.put(Phase.PRIVATE_STEPS, convert(ram, size, STEP, PageState.PRIVATE));
                figures.put(Phase.PRIVATE_STEPS, ram.figures());
                guest.writeEveryPage(0, size);
                figures.put(Phase.GUEST_WROTE, ram.figures());
                speed.put(Phase.SHARED_STEPS, convert(ram, size, STEP, PageState.SHARED));
                figures.put(Phase.SHARED_STEPS, ram.figures());
                contents = describe(ram.read(size / 2, 8), size / 2);
                hostWriteEveryPage(ram, size, page);
                figures.put(Phase.HOST_WROTE_AGAIN, ram.figures());
                speed.put(Phase.PRIVATE_WHOLE, convert(ram, size, size, PageState.PRIVATE));
                figures.put(Phase.PRIVATE_WHOLE, ram.figures());
                guest.writeEveryPage(0, size);
                figures.put(Phase.GUEST_WROTE_AGAIN, ram.figures());
                speed.put(Phase.SHARED_WHOLE, convert(ram, size, size, PageState.SHARED));
                figures.put(Phase.SHARED_WHOLE, ram.figures());
            } finally {
                ram.close();
            }
        }
        return new Result(strategy, figures, speed, contents);
    }

    /** Converts [0, size) to {@code target} in {@code step}-sized calls; returns GiB/s. */
    private static double convert(GuestRam ram, long size, long step, PageState target) {
        long t0 = System.nanoTime();
        for (long at = 0; at < size; at += step) ram.convert(at, step, target);
        long ns = Math.max(1, System.nanoTime() - t0);
        return size / (double) (1L << 30) / (ns / 1e9);
    }

    private static byte[] word(long value) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (value >>> (8 * i));
        return b;
    }

    private static long value(byte[] b) {
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xff);
        return v;
    }

    private static String describe(byte[] word, long gpa) {
        long v = value(word);
        if (v == 0) return "zero";
        if (v == (GUEST_TAG | gpa)) return "the guest's word";
        if (v == (HOST_TAG | gpa)) return "the host's stale word";
        return "0x" + Long.toHexString(v);
    }

    /** One word at the start of every page, written through GuestRam in 2 MiB pieces. */
    private static void hostWriteEveryPage(GuestRam ram, long size, long page) {
        byte[] chunk = new byte[(int) STEP];
        for (long at = 0; at < size; at += STEP) {
            for (int off = 0; off < STEP; off += (int) page) System.arraycopy(word(HOST_TAG | (at + off)), 0, chunk, off, 8);
            ram.write(at, chunk);
        }
    }

    /** A software vCPU whose guest writes one word into each page of a range it is given, then halts. */
    private static final class Guest implements AutoCloseable {
        private final SimVcpu vcpu;
        private final BlockingQueue<long[]> ranges = new LinkedBlockingQueue<>();

        Guest(KvmVm vm, long page) {
            vcpu = (SimVcpu) vm.createVcpu(0);
            vcpu.load(cpu -> {
                while (true) {
                    long[] r = ranges.take();
                    for (long g = r[0]; g < r[1]; g += page) cpu.write(g, word(GUEST_TAG | g));
                    cpu.hlt();
                }
            });
        }

        void writeEveryPage(long start, long end) {
            ranges.add(new long[] {start, end});
            VcpuExit e = vcpu.run();
            if (!(e instanceof VcpuExit.Hlt))
                throw new IllegalStateException("the guest stopped with " + e + vcpu.guestFailure().map(t -> ": " + t).orElse(""));
        }

        @Override public void close() { vcpu.close(); }
    }

    // ---- the table ----

    private static String mib(long bytes) { return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", bytes / (double) MIB); }

    /** Prints the results as Markdown: figures per phase side by side (MiB), then throughput (GiB/s). */
    public static void print(long size, List<Result> results, PrintStream out) {
        out.printf(Locale.ROOT, "Conversion footprint of a %d MiB guest: one region, sw-protected VM, software KVM on real memfd "
                + "memory (allocated = st_blocks, resident = mincore). In place: profile inplace, backend guest-memfd; "
                + "legacy: profile 7.3, backend legacy.%n%n", size / MIB);
        StringBuilder head = new StringBuilder("| after | ");
        StringBuilder rule = new StringBuilder("|---|");
        for (Result r : results) {
            head.append(r.strategy().label).append(": allocated MiB | resident MiB | ");
            rule.append("---:|---:|");
        }
        out.println(head.toString().trim());
        out.println(rule);
        for (Phase p : Phase.values()) {
            StringBuilder row = new StringBuilder("| ").append(p.label).append(" | ");
            for (Result r : results) {
                MemoryFigures f = r.figures().get(p);
                row.append(mib(f.allocated())).append(" | ").append(mib(f.resident())).append(" | ");
            }
            out.println(row.toString().trim());
        }
        out.println();
        StringBuilder head2 = new StringBuilder("| conversion | ");
        StringBuilder rule2 = new StringBuilder("|---|");
        for (Result r : results) {
            head2.append(r.strategy().label).append(": GiB/s | ");
            rule2.append("---:|");
        }
        out.println(head2.toString().trim());
        out.println(rule2);
        for (Phase p : Phase.values()) {
            if (!p.conversion) continue;
            StringBuilder row = new StringBuilder("| ").append(p.label).append(" | ");
            for (Result r : results) row.append(String.format(Locale.ROOT, "%.2f", r.gibPerSecond().get(p))).append(" | ");
            out.println(row.toString().trim());
        }
        out.println();
        for (Result r : results)
            out.println("- " + r.strategy().label + ": after the first round trip the host reads " + r.contentsAfterRoundTrip()
                    + " in a page");
    }
}
