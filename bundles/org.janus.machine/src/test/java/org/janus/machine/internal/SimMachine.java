package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.MemoryFigures;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.janus.memory.api.RamRegion;

/**
 * A VM on the software KVM with RAM regions, MMIO holes and a conversion engine, plus what the test expects of
 * it, kept independently of both the machine's trackers and the kernel model: page states as bitsets, one word
 * per page on each face (shared, private; in place both are one), and the pages ever touched. After each step
 * {@link #check} compares the three views and the measured memory.
 */
final class SimMachine implements AutoCloseable {
    static final long P = 4096;
    static final long M = 1L << 20;
    static final long G = 1L << 30;

    record RamSpec(String name, int slot, long gpa, long size, PageState initial) {}

    /** RAM regions and MMIO holes; everything else is unassigned. */
    record Layout(List<RamSpec> rams, List<MmioHole> holes) {
        /**
         * low [0, 8M) and low2 [8M, 12M) touch, so one request can span both; an MMIO hole at [12M, 13M);
         * unassigned up to high, a sparse 1 GiB region at [1G, 2G) that takes a whole 1G page.
         */
        static Layout standard(PageState low, PageState low2, PageState high) {
            return new Layout(List.of(new RamSpec("low", 0, 0, 8 * M, low), new RamSpec("low2", 1, 8 * M, 4 * M, low2),
                    new RamSpec("high", 2, G, G, high)), List.of(new MmioHole("dev", 12 * M, M)));
        }

        /** The standard layout without the 1 GiB region. */
        static Layout small(PageState low, PageState low2) {
            return new Layout(List.of(new RamSpec("low", 0, 0, 8 * M, low), new RamSpec("low2", 1, 8 * M, 4 * M, low2)),
                    List.of(new MmioHole("dev", 12 * M, M)));
        }
    }

    /** A RAM region and what the test expects of it. Page numbers count from the region's start. */
    final class Region {
        final GuestRam ram;
        final RamRegion region;
        final BitSet expectedPrivate = new BitSet();
        final BitSet touched = new BitSet();
        /** Every page a word was ever written to: checked at each step, also once its word is gone. */
        final TreeSet<Integer> watched = new TreeSet<>();
        /** The word at {@link #wordAddress} of each page on each face; absent means zero. */
        final TreeMap<Integer, Long> sharedFace;
        final TreeMap<Integer, Long> privateFace;
        /**
         * SEV-SNP: pages whose word on that face the test cannot know, because the page changed owner since it was
         * written there (the hardware shows ciphertext or garbage, never the other side's plaintext). Read, not checked.
         */
        final BitSet unknownPrivate = new BitSet();
        final BitSet unknownShared = new BitSet();

        Region(GuestRam ram, PageState initial) {
            this.ram = ram;
            this.region = ram.region();
            if (initial == PageState.PRIVATE) expectedPrivate.set(0, pages());
            sharedFace = new TreeMap<>();
            privateFace = setup.strategy().preservesContents() ? sharedFace : new TreeMap<>();
            // A private page the guest has never written reads as its key's decryption of whatever the host left.
            if (setup.isSnp()) unknownPrivate.set(0, pages());
        }

        BitSet unknown(PageState s) { return s == PageState.PRIVATE ? unknownPrivate : unknownShared; }

        int pages() { return (int) (region.size() / P); }

        int page(long gpa) { return (int) ((gpa - region.gpa()) / P); }

        long gpa(int page) { return region.gpa() + page * P; }

        PageState expected(int page) { return expectedPrivate.get(page) ? PageState.PRIVATE : PageState.SHARED; }

        TreeMap<Integer, Long> face(PageState s) { return s == PageState.PRIVATE ? privateFace : sharedFace; }

        /** A conversion of [start, end) to target was done: the stale face of each changed page is gone if discarded. */
        void converted(long start, long end, PageState target) {
            int from = page(start);
            int to = page(end);
            if (setup.isSnp()) {
                for (int p = from; p < to; p++) {
                    if (expectedPrivate.get(p) == (target == PageState.PRIVATE)) continue;
                    // In place the one page changes owner; legacy with discard, the private page is released and comes
                    // back as a new one; kept, it stays the guest's (the RMP is not touched) with its plaintext.
                    if (setup.strategy().preservesContents()) unknown(target).set(p);
                    else if (setup.strategy().discards() && target == PageState.SHARED) unknownPrivate.set(p);
                }
            }
            if (setup.strategy().discards()) {
                boolean toPrivate = target == PageState.PRIVATE;
                face(target.opposite()).subMap(from, to).keySet().removeIf(p -> expectedPrivate.get(p) != toPrivate);
            }
            expectedPrivate.set(from, to, target == PageState.PRIVATE);
        }
    }

    /** What a request must come to, derived from the exit by the test's own reading of the rules. */
    sealed interface Expectation {
        record Refusal(String why) implements Expectation {}

        record Conversion(GpaRange range, PageState target, List<GpaRange> ramParts) implements Expectation {}
    }

    final SimSetup setup;
    final SimKvm kvm;
    final KvmVm vm;
    final List<Region> regions = new ArrayList<>();
    final GuestMemoryMap map;
    final ConversionEngine engine;
    final Layout layout;
    private final Random random;
    private final Deque<GpaRange> recent = new ArrayDeque<>();

    SimMachine(SimSetup setup, Layout layout, long seed) {
        this.setup = setup;
        this.layout = layout;
        this.random = new Random(seed ^ 0x5eed);
        this.kvm = SimKvm.create(setup.profile(), SimHardware.AMD_SNP);
        this.vm = kvm.createVm(setup.vmType());
        MemoryBackend backend = setup.strategy().backend();
        assertTrue(backend.suitability(vm).usable(), setup + ": " + backend.suitability(vm).reason());
        List<GuestRam> rams = new ArrayList<>();
        try {
            for (RamSpec s : layout.rams()) {
                GuestRam ram = backend.create(kvm, vm, new RamRegion(s.name(), s.slot(), s.gpa(), s.size()), s.initial());
                rams.add(ram);
                regions.add(new Region(ram, s.initial()));
            }
            this.map = new GuestMemoryMap(rams, layout.holes());
        } catch (RuntimeException e) {
            rams.forEach(GuestRam::close);
            vm.close();
            throw e;
        }
        this.engine = new ConversionEngine(map);
    }

    /** Lets MAP_GPA_RANGE exit to userspace, as a VMM does for guests that convert. */
    void enableMapGpaRangeExits() {
        vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
    }

    Region regionAt(long gpa) {
        for (Region r : regions) if (r.region.contains(gpa)) return r;
        return null;
    }

    Region region(String name) {
        return regions.stream().filter(r -> r.region.name().equals(name)).findFirst().orElseThrow();
    }

    long guestSize() { return regions.stream().mapToLong(r -> r.region.size()).sum(); }

    /** Where the word the test follows sits in the page of {@code gpa}: inside the page, away from both edges. */
    static long wordAddress(long gpa) {
        long page = gpa & -P;
        return page + 64 + ((page / P * 72) % (P - 128) & ~7L);
    }

    // ---- requests ----

    static VcpuExit.MemoryFault fault(long gpa, long size, long flags) {
        return new VcpuExit.MemoryFault(flags, gpa, size, Errno.EFAULT);
    }

    static VcpuExit.MemoryFault fault(long gpa, long size, PageState target) {
        return fault(gpa, size, target == PageState.PRIVATE ? ExitReason.MEMORY_EXIT_FLAG_PRIVATE : 0);
    }

    static VcpuExit.Hypercall mapGpaRange(long gpa, long npages, long attrs) {
        return new VcpuExit.Hypercall(Hypercalls.KVM_HC_MAP_GPA_RANGE, new long[] {gpa, npages, attrs, 0, 0, 0},
                Hypercalls.EXIT_HYPERCALL_LONG_MODE);
    }

    static VcpuExit.Hypercall mapGpaRange(GpaRange range, PageState target) {
        return mapGpaRange(range.start(), range.size() / P, target == PageState.PRIVATE ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : 0);
    }

    /** The test's own decoding of an exit and of the memory map (QEMU's table). */
    Expectation expect(VcpuExit exit) {
        if (exit instanceof VcpuExit.MemoryFault f) {
            if ((f.flags() & ~ExitReason.MEMORY_EXIT_FLAG_PRIVATE) != 0) return new Expectation.Refusal("unknown fault flags");
            return expectRange(f.gpa(), f.size(), P, f.isPrivate() ? PageState.PRIVATE : PageState.SHARED);
        }
        VcpuExit.Hypercall h = (VcpuExit.Hypercall) exit;
        if (h.nr() != Hypercalls.KVM_HC_MAP_GPA_RANGE) return new Expectation.Refusal("not MAP_GPA_RANGE");
        long attrs = h.arg(2);
        if ((attrs >>> 5) != 0) return new Expectation.Refusal("reserved attribute bits");
        long code = attrs & 0xf;
        long align = code == 0 ? P : code == 1 ? 2 * M : code == 2 ? G : -1;
        if (align < 0) return new Expectation.Refusal("page size code " + code);
        long npages = h.arg(1);
        if (npages <= 0 || npages > Long.MAX_VALUE / P) return new Expectation.Refusal("npages " + npages);
        return expectRange(h.arg(0), npages * P, align, (attrs & 0x10) != 0 ? PageState.PRIVATE : PageState.SHARED);
    }

    private Expectation expectRange(long gpa, long size, long align, PageState target) {
        if (size <= 0) return new Expectation.Refusal("empty");
        if (gpa < 0 || gpa + size < 0) return new Expectation.Refusal("overflow");
        if (gpa % align != 0 || size % align != 0) return new Expectation.Refusal("misaligned to 0x" + Long.toHexString(align));
        GpaRange range = GpaRange.of(gpa, size);
        List<GpaRange> parts = new ArrayList<>();
        long ramBytes = 0;
        for (Region r : regions) {
            long s = Math.max(gpa, r.region.gpa());
            long e = Math.min(gpa + size, r.region.end());
            if (s < e) {
                parts.add(new GpaRange(s, e));
                ramBytes += e - s;
            }
        }
        parts.sort((a, b) -> Long.compare(a.start(), b.start()));
        if (target == PageState.PRIVATE && ramBytes != size) return new Expectation.Refusal("not all RAM, cannot become private");
        return new Expectation.Conversion(range, target, parts);
    }

    /**
     * Hands an exit to the engine as the VMM does, checks the outcome against {@link #expect} and applies it to the
     * expected state. Refusals must change nothing: the trackers are compared before and after.
     */
    ConversionOutcome handle(VcpuExit exit, String context) {
        Expectation want = expect(exit);
        ConversionRequest request = exit instanceof VcpuExit.MemoryFault f
                ? ConversionRequest.fromMemoryFault(f) : ConversionRequest.fromMapGpaRange((VcpuExit.Hypercall) exit);
        noteRange(exit);
        List<List<PageStateMap.Run>> before = trackerRuns();
        ConversionOutcome o = engine.handle(request);
        if (want instanceof Expectation.Refusal r) {
            ConversionOutcome.Refused refused = assertInstanceOf(ConversionOutcome.Refused.class, o,
                    context + ": " + exit + " must be refused (" + r.why() + ")");
            assertEquals(Errno.EINVAL, refused.guestAnswer(), context + ": guest answer for " + exit);
            assertEquals(before, trackerRuns(), context + ": a refused request changed the trackers");
        } else {
            Expectation.Conversion c = (Expectation.Conversion) want;
            ConversionOutcome.Done done = assertInstanceOf(ConversionOutcome.Done.class, o, context + ": " + exit + " must be done");
            assertEquals(0, done.guestAnswer());
            assertEquals(c.ramParts(), done.converted(), context + ": converted parts of " + exit);
            long skipped = 0;
            for (GpaRange s : done.skipped()) {
                skipped += s.size();
                for (Region r : regions) assertTrue(!r.region.overlaps(s.start(), s.size()), context + ": skipped RAM " + s);
            }
            long ram = c.ramParts().stream().mapToLong(GpaRange::size).sum();
            assertEquals(c.range().size() - ram, skipped, context + ": skipped bytes of " + exit);
            largestConversion = Math.max(largestConversion, ram);
            for (GpaRange part : c.ramParts()) regionAt(part.start()).converted(part.start(), part.end(), c.target());
        }
        return o;
    }

    void noteRange(VcpuExit exit) {
        long start, size;
        if (exit instanceof VcpuExit.MemoryFault f) {
            start = f.gpa();
            size = f.size();
        } else {
            VcpuExit.Hypercall h = (VcpuExit.Hypercall) exit;
            start = h.arg(0);
            size = h.arg(1) * P;
        }
        if (start < 0 || size < 0 || start + size < 0) return;
        recent.addFirst(GpaRange.of(start & -P, size));
        if (recent.size() > 6) recent.removeLast();
    }

    List<List<PageStateMap.Run>> trackerRuns() {
        List<List<PageStateMap.Run>> out = new ArrayList<>();
        for (Region r : regions) out.add(r.ram.runs(r.region.gpa(), r.region.size()));
        return out;
    }

    // ---- host and guest access, as the expected state sees them ----

    static byte[] le(long v) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (v >>> (8 * i));
        return b;
    }

    static long le(byte[] b) {
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xff);
        return v;
    }

    /** The host writes a word into the page at {@code gpa}: done if the page is shared, refused untouched if private. */
    void hostWrite(long gpa, long value, String context) {
        Region r = regionAt(gpa);
        int page = r.page(gpa);
        if (r.expected(page) == PageState.SHARED) {
            r.ram.write(wordAddress(gpa), le(value));
            r.touched.set(page);
            r.sharedFace.put(page, value);
            r.unknownShared.clear(page);
            r.watched.add(page);
        } else {
            MemoryException e = assertThrows(MemoryException.class, () -> r.ram.write(wordAddress(gpa), le(value)),
                    context + ": host write to private page 0x" + Long.toHexString(gpa));
            assertEquals(MemoryException.Step.HOST_ACCESS, e.step(), context);
        }
    }

    /**
     * The host writes 16 bytes across the boundary between the page at {@code gpa} and the next one (same region):
     * done if both are shared, else refused with the shared one unchanged.
     */
    void hostWriteAcross(long gpa, String context) {
        Region r = regionAt(gpa);
        int page = r.page(gpa);
        if (page + 1 >= r.pages()) return;
        long at = r.gpa(page + 1) - 8;
        byte[] data = le(random.nextLong() | 1);
        byte[] both = new byte[16];
        System.arraycopy(data, 0, both, 0, 8);
        System.arraycopy(data, 0, both, 8, 8);
        boolean shared0 = r.expected(page) == PageState.SHARED;
        boolean shared1 = r.expected(page + 1) == PageState.SHARED;
        if (shared0 && shared1) {
            r.ram.write(at, both);
            r.touched.set(page, page + 2);
            assertArrayEquals(both, r.ram.read(at, 16), context);
            return;
        }
        long sharedAt = shared0 ? at : shared1 ? at + 8 : -1;
        byte[] old = sharedAt >= 0 ? r.ram.read(sharedAt, 8) : null;
        if (sharedAt >= 0) r.touched.set(r.page(sharedAt));
        MemoryException e = assertThrows(MemoryException.class, () -> r.ram.write(at, both), context + ": write across 0x" + Long.toHexString(at + 8));
        assertEquals(MemoryException.Step.HOST_ACCESS, e.step());
        assertThrows(MemoryException.class, () -> r.ram.read(at, 16), context);
        if (sharedAt >= 0) assertArrayEquals(old, r.ram.read(sharedAt, 8), context + ": a refused write changed the shared page");
    }

    /** A guest access to {@code face} of the page at {@code gpa} happened (after any conversion it needed). */
    void guestWrote(long gpa, PageState face, long value) {
        Region r = regionAt(gpa);
        int page = r.page(gpa);
        r.touched.set(page);
        r.face(face).put(page, value);
        r.unknown(face).clear(page);
        r.watched.add(page);
    }

    /** Whether the test knows the word of {@code face} at {@code gpa} (always, but on SEV-SNP after a change of owner). */
    boolean knows(long gpa, PageState face) {
        Region r = regionAt(gpa);
        return !r.unknown(face).get(r.page(gpa));
    }

    long expectedWord(long gpa, PageState face) {
        Region r = regionAt(gpa);
        r.touched.set(r.page(gpa));
        return r.face(face).getOrDefault(r.page(gpa), 0L);
    }

    // ---- invariants ----

    /** Every invariant, after a step; {@code context} names the seed and the step so that a failure reproduces. */
    void check(String context) {
        // mincore over a sparse 1 GiB mapping costs milliseconds: measure large regions at every 8th check only.
        boolean measureAll = checks++ % 8 == 0;
        long allocated = 0;
        for (Region r : regions) {
            checkStates(r, context);
            checkContents(r, context);
            if (measureAll || r.pages() <= 8192) allocated += checkFigures(r, context);
        }
        long bound = guestSize() + (setup.strategy() == SimSetup.Strategy.LEGACY_DISCARD ? largestConversion : 0);
        if (setup.strategy() != SimSetup.Strategy.LEGACY_KEEP)
            assertTrue(allocated <= bound, context + ": " + allocated + " bytes allocated, more than " + bound);
    }

    private int checks;

    /** The largest single conversion so far (legacy with discard may hold both faces of it for a moment). */
    long largestConversion;

    /** (a) tracker = expected exactly (run by run), and tracker = model = expected at sampled pages. */
    void checkStates(Region r, String context) {
        List<PageStateMap.Run> runs = r.ram.runs(r.region.gpa(), r.region.size());
        TreeSet<Integer> sample = new TreeSet<>();
        for (PageStateMap.Run run : runs) {
            int a = r.page(run.range().start());
            int b = r.page(run.range().end());
            if (run.state() == PageState.PRIVATE) {
                assertTrue(r.expectedPrivate.nextClearBit(a) >= b, context + ": tracker says " + run + " but page "
                        + r.expectedPrivate.nextClearBit(a) + " of " + r.region.name() + " should be shared");
            } else {
                int s = r.expectedPrivate.nextSetBit(a);
                assertTrue(s < 0 || s >= b, context + ": tracker says " + run + " but page " + s + " of " + r.region.name()
                        + " should be private");
            }
            for (int p : new int[] {a - 1, a, a + 1, b - 2, b - 1, b}) sample.add(p);
        }
        for (GpaRange g : recent) for (long at : new long[] {g.start(), g.end()})
            if (at >= r.region.gpa() - P && at <= r.region.end() + P) {
                int p = (int) Math.floorDiv(at - r.region.gpa(), P);
                sample.add(p - 1);
                sample.add(p);
                sample.add(p + 1);
            }
        for (int i = 0; i < 16; i++) sample.add(random.nextInt(r.pages()));
        assertEquals(r.expectedPrivate.cardinality() * P, r.ram.privateBytes(), context + ": private bytes of " + r.region.name());
        for (int p : sample) {
            if (p < 0 || p >= r.pages()) continue;
            long gpa = r.gpa(p);
            boolean want = r.expectedPrivate.get(p);
            assertEquals(want, r.ram.stateAt(gpa) == PageState.PRIVATE, context + ": tracker at 0x" + Long.toHexString(gpa));
            assertEquals(want, kvm.isPrivate(vm, gpa), context + ": the kernel model at 0x" + Long.toHexString(gpa)
                    + " disagrees with the tracker");
        }
    }

    /**
     * (c) contents follow the strategy, read by the host where shared; (d) host access to a private page is refused
     * before touching anything.
     */
    void checkContents(Region r, String context) {
        TreeSet<Integer> pages = new TreeSet<>(r.watched);
        for (int i = 0; i < 4; i++) pages.add(random.nextInt(r.pages()));
        for (int p : pages) {
            long gpa = r.gpa(p);
            if (r.expected(p) == PageState.PRIVATE) {
                MemoryException e = assertThrows(MemoryException.class, () -> r.ram.read(wordAddress(gpa), 8),
                        context + ": host read of private page 0x" + Long.toHexString(gpa));
                assertEquals(MemoryException.Step.HOST_ACCESS, e.step());
                continue;
            }
            long got = le(r.ram.read(wordAddress(gpa), 8));
            r.touched.set(p);
            if (r.unknownShared.get(p)) continue;
            long want = r.sharedFace.getOrDefault(p, 0L);
            assertEquals(want, got, context + ": host view of page 0x" + Long.toHexString(gpa) + " (" + setup.strategy() + ")");
        }
        int priv = r.expectedPrivate.nextSetBit(random.nextInt(r.pages()));
        if (priv < 0) priv = r.expectedPrivate.nextSetBit(0);
        if (priv >= 0) hostWrite(r.gpa(priv), 0xbad, context);
    }

    /** (e) memory measured from the kernel stays within what the strategy promises; returns the allocated bytes. */
    long checkFigures(Region r, String context) {
        MemoryFigures f = r.ram.figures();
        long touched = r.touched.cardinality() * P;
        assertEquals(r.expectedPrivate.cardinality() * P, f.privateBytes(), context);
        long limit = Math.min(r.region.size(), touched);
        String what = context + ": " + r.region.name() + " " + f + " with " + touched + " bytes touched";
        switch (setup.strategy()) {
            case IN_PLACE, LEGACY_DISCARD -> assertTrue(f.allocated() <= limit, what + ": more than one face per page");
            case LEGACY_KEEP -> assertTrue(f.allocated() <= 2 * limit, what);
        }
        long written = r.sharedFace.values().stream().filter(v -> v != 0).count() * P;
        assertTrue(f.sharedAllocated() + (setup.strategy().preservesContents() ? f.privateAllocated() : 0) >= written,
                what + ": less allocated than the words it holds");
        if (!setup.strategy().preservesContents()) {
            long privWritten = r.privateFace.values().stream().filter(v -> v != 0).count() * P;
            assertTrue(f.privateAllocated() >= privWritten, what + ": private face smaller than its words");
        }
        return f.allocated();
    }

    /** Every page of every region is in the expected state, by the model (for small regions). */
    void assertModelMatchesEverywhere(String context) {
        for (Region r : regions) {
            if (r.pages() > 8192) continue;
            for (int p = 0; p < r.pages(); p++)
                if (kvm.isPrivate(vm, r.gpa(p)) != r.expectedPrivate.get(p))
                    fail(context + ": model at 0x" + Long.toHexString(r.gpa(p)) + " is " + (r.expectedPrivate.get(p) ? "shared" : "private"));
        }
    }

    @Override public void close() {
        for (Region r : regions) r.ram.close();
        vm.close();
    }
}
