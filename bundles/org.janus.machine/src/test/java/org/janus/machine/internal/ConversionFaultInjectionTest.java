package org.janus.machine.internal;

import static org.janus.machine.internal.SimMachine.M;
import static org.janus.machine.internal.SimMachine.P;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fault injection: every KVM call a conversion makes (KVM_SET_MEMORY_ATTRIBUTES2 in place; KVM_SET_MEMORY_ATTRIBUTES
 * and the discarding fallocate in legacy) fails with each errno it can return, at every position, until the
 * conversion runs through without the fault firing. After each: either the conversion is done (a retried EINTR or
 * EAGAIN) or refused with everything as before (trackers = model = expected, contents as the strategy promises,
 * listeners balanced) and the errno mapped to the guest's answer. A second fault during the rollback must give a
 * Stop naming exactly the range that is not as before, with both causes. Requests span runs of one region, two
 * regions and the MMIO hole, so both the backend's and the engine's rollback run.
 */
class ConversionFaultInjectionTest {
    static final String ATTRS2 = "KVM_SET_MEMORY_ATTRIBUTES2";
    static final String ATTRS = "KVM_SET_MEMORY_ATTRIBUTES";
    static final String FALLOCATE = "fallocate";

    /** A request and the private runs it starts from. */
    record Scenario(String name, GpaRange range, PageState target) {
        @Override public String toString() { return name + " " + range + " to " + target; }
    }

    /** Private runs every scenario starts from: three in low, three in low2. */
    static final List<GpaRange> FRAGMENTS = List.of(GpaRange.of(5 * M, 64 * 1024), GpaRange.of(6 * M + 128 * 1024, 64 * 1024),
            GpaRange.of(7 * M, 2 * P), GpaRange.of(8 * M + 256 * 1024, 256 * 1024), GpaRange.of(9 * M, P), GpaRange.of(10 * M, M));

    static final List<Scenario> SCENARIOS = List.of(
            new Scenario("four runs of one region", GpaRange.of(4 * M, 4 * M), PageState.PRIVATE),
            new Scenario("three runs of one region", GpaRange.of(4 * M, 4 * M), PageState.SHARED),
            new Scenario("two regions", GpaRange.of(6 * M, 4 * M), PageState.PRIVATE),
            new Scenario("two regions and the MMIO hole", GpaRange.of(6 * M, 7 * M), PageState.SHARED));

    /** A fault: the (position+1)-th call of {@code operation} fails with {@code errno}. */
    record Fault(String operation, int errno) {}

    static Stream<SimSetup> setups() {
        // The VM type does not change how a conversion calls KVM: SNP runs the in-place and one legacy setup only.
        return SimSetup.all().stream().filter(s -> !s.isSnp() || s.profile() == SimProfile.INPLACE
                || (s.profile() == SimProfile.K7_3 && s.strategy() == SimSetup.Strategy.LEGACY_DISCARD));
    }

    /** Each KVM call of a conversion with the errnos it can return (kvm-uapi.md §3.2, §4.1, §4.4). */
    static List<Fault> faults(SimSetup setup, PageState target) {
        List<Fault> out = new ArrayList<>();
        if (setup.strategy() == SimSetup.Strategy.IN_PLACE) {
            for (int e : new int[] {Errno.EINVAL, Errno.ENOMEM, Errno.EFAULT, Errno.EINTR}) out.add(new Fault(ATTRS2, e));
            if (target == PageState.PRIVATE) out.add(new Fault(ATTRS2, Errno.EAGAIN));
        } else {
            for (int e : new int[] {Errno.EINVAL, Errno.ENOMEM, Errno.EFAULT}) out.add(new Fault(ATTRS, e));
            if (setup.strategy().discards())
                for (int e : new int[] {Errno.EINVAL, Errno.ENOMEM, Errno.EINTR}) out.add(new Fault(FALLOCATE, e));
        }
        return out;
    }

    /** Errnos the backend retries itself, so that the conversion still gets done. */
    /**
     * Faults after which the conversion is done all the same: EINTR and EAGAIN of the in-place ioctl are asked
     * again, and a failed discard of the stale face (legacy) is clean-up left for later, not a reason to undo.
     */
    static boolean retried(SimSetup setup, Fault f) {
        return (f.operation().equals(ATTRS2) && (f.errno() == Errno.EINTR || f.errno() == Errno.EAGAIN))
                || (f.operation().equals(FALLOCATE) && setup.strategy().discards());
    }

    /** A machine on the small layout with a listener on every region, and a way to tell whether a fault fired. */
    static final class Bed implements AutoCloseable {
        final SimSetup setup;
        final SimMachine m;
        final RecordingListener listener;
        private final HostMemfd probeMemfd;
        private final GuestMemfd probeGmem;

        Bed(SimSetup setup) {
            this.setup = setup;
            this.m = new SimMachine(setup, SimMachine.Layout.small(PageState.SHARED, PageState.SHARED), 1);
            this.listener = new RecordingListener(m.kvm, m.vm);
            for (SimMachine.Region r : m.regions) listener.watch(r.ram);
            this.probeMemfd = m.kvm.memfdCreate("probe", P);
            this.probeGmem = setup.strategy() == SimSetup.Strategy.IN_PLACE
                    ? m.vm.createGuestMemfd(P, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED) : null;
        }

        /** Everything shared, a word on every 128th page and the first page of each fragment, then the fragments. */
        void prepare(String context) {
            m.handle(SimMachine.mapGpaRange(GpaRange.of(0, 12 * M), PageState.SHARED), context + " prepare");
            for (long gpa = 0; gpa < 12 * M; gpa += 512 * 1024) m.hostWrite(gpa, gpa * 31 + 7, context + " prepare");
            for (GpaRange f : FRAGMENTS) m.hostWrite(f.start(), f.start() * 17 + 3, context + " prepare");
            for (GpaRange f : FRAGMENTS) m.handle(SimMachine.mapGpaRange(f, PageState.PRIVATE), context + " prepare");
        }

        /**
         * Whether the fault injected {@code position} calls ahead is still waiting: calls the operation harmlessly
         * (on a GPA or file nothing uses) until it fires, at most {@code position + 1} times.
         */
        boolean pending(String operation, int position) {
            for (int i = 0; i <= position; i++) {
                try {
                    switch (operation) {
                        case FALLOCATE -> probeMemfd.punchHole(0, P);
                        case ATTRS -> m.vm.setMemoryAttributes(MemoryAttributes.of(1L << 40, P, 0));
                        case ATTRS2 -> probeGmem.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0));
                        default -> throw new IllegalArgumentException(operation);
                    }
                } catch (KvmException e) {
                    m.kvm.clearFaults();
                    return true;
                }
            }
            m.kvm.clearFaults();
            return false;
        }

        ConversionOutcome convert(Scenario s) {
            return m.engine.handle(ConversionRequest.fromMapGpaRange(SimMachine.mapGpaRange(s.range(), s.target())));
        }

        /** The outcome is done: apply it to the expected state. */
        void done(ConversionOutcome o, Scenario s, String context) {
            ConversionOutcome.Done d = assertInstanceOf(ConversionOutcome.Done.class, o, context);
            for (GpaRange part : d.converted()) m.regionAt(part.start()).converted(part.start(), part.end(), s.target());
        }

        /** Trackers, model, contents, figures, and the listener's mappings all agree with the expected state. */
        void checkConsistent(String context) {
            m.check(context);
            m.assertModelMatchesEverywhere(context);
            for (SimMachine.Region r : m.regions) {
                BitSet shared = new BitSet();
                shared.set(0, r.pages());
                shared.andNot(r.expectedPrivate);
                assertEquals(shared, listener.mapped(r.ram), context + ": the listener's mappings of " + r.region.name());
            }
        }

        @Override public void close() {
            probeMemfd.close();
            if (probeGmem != null) probeGmem.close();
            m.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void everyCallFailingWithEachErrnoAtEveryPosition(SimSetup setup) {
        int attempts = 0;
        try (Bed bed = new Bed(setup)) {
            for (Scenario s : SCENARIOS) {
                for (Fault f : faults(setup, s.target())) {
                    for (int position = 0; ; position++) {
                        assertTrue(position < 64, setup + " " + s + ": the conversion never ran through");
                        String context = setup + " " + s + " " + f.operation() + " " + Errno.name(f.errno()) + " at call " + position;
                        bed.prepare(context);
                        List<List<PageStateMap.Run>> before = bed.m.trackerRuns();
                        int events = bed.listener.events.size();
                        bed.m.kvm.injectFault(f.operation(), f.errno(), position);
                        ConversionOutcome o = bed.convert(s);
                        boolean fired = !bed.pending(f.operation(), position);
                        attempts++;
                        if (!fired) {
                            bed.done(o, s, context + ": without the fault");
                            bed.checkConsistent(context);
                            break;
                        }
                        if (retried(setup, f)) {
                            bed.done(o, s, context + ": retried");
                            if (f.errno() == Errno.EAGAIN) {
                                // The page at error_offset (the start of the failed call) was asked for again.
                                assertTrue(bed.listener.events.subList(events, bed.listener.events.size()).stream()
                                        .anyMatch(e -> e.kind().equals("privatising") && e.size() == P), context);
                            }
                        } else {
                            ConversionOutcome.Refused r = assertInstanceOf(ConversionOutcome.Refused.class, o, context);
                            assertEquals(f.errno(), r.errno(), context + ": " + r.reason());
                            assertEquals(f.errno() == Errno.EAGAIN ? Errno.EAGAIN : Errno.EINVAL, r.guestAnswer(), context);
                            assertEquals(before, bed.m.trackerRuns(), context + ": the trackers changed");
                        }
                        bed.checkConsistent(context);
                    }
                }
            }
        }
        assertTrue(attempts > 10, setup + ": only " + attempts + " attempts");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    void aFailingRollbackStopsWithTheExactRangeAndBothCauses(SimSetup setup) {
        String undoOp = setup.strategy() == SimSetup.Strategy.IN_PLACE ? ATTRS2 : ATTRS;
        List<String> firstOps = setup.strategy().discards() ? List.of(ATTRS, FALLOCATE) : List.of(undoOp);
        int stops = 0;
        Bed bed = new Bed(setup);
        try {
            for (Scenario s : SCENARIOS) {
                for (String firstOp : firstOps) {
                    for (int first = 0; first < 8; first++) {
                        // The second fault on the first, second or fourth undo call after it.
                        for (int second : new int[] {0, 1, 3}) {
                            String context = setup + " " + s + " ENOMEM on " + firstOp + " call " + first + ", EINVAL on "
                                    + undoOp + " call " + second;
                            bed.prepare(context);
                            BitSet[] before = bed.m.regions.stream().map(r -> (BitSet) r.expectedPrivate.clone()).toArray(BitSet[]::new);
                            bed.m.kvm.injectFault(firstOp, Errno.ENOMEM, first);
                            // On the same operation the second fault counts from the same call: it fires after the first.
                            bed.m.kvm.injectFault(undoOp, Errno.EINVAL, firstOp.equals(undoOp) ? first + 1 + second : second);
                            ConversionOutcome o = bed.convert(s);
                            bed.m.kvm.clearFaults();
                            if (o instanceof ConversionOutcome.Stop stop) {
                                stops++;
                                checkStop(bed, s, stop, before, context);
                                bed.close();
                                bed = new Bed(setup);
                            } else if (o instanceof ConversionOutcome.Refused r) {
                                assertTrue(r.errno() == Errno.ENOMEM || r.errno() == Errno.EINVAL, context + ": " + o);
                                bed.checkConsistent(context);
                            } else {
                                bed.done(o, s, context);
                                bed.checkConsistent(context);
                            }
                        }
                    }
                }
            }
        } finally {
            bed.close();
        }
        assertTrue(stops >= SCENARIOS.size(), setup + ": only " + stops + " rollbacks failed; the faults missed the undo calls");
    }

    /**
     * A stop names one run of the request that needed converting; everything outside it is as before (trackers,
     * model); inside it, a broken region refuses every further call, an unbroken one still agrees with the model.
     */
    private static void checkStop(Bed bed, Scenario s, ConversionOutcome.Stop stop, BitSet[] before, String context) {
        GpaRange range = stop.range();
        assertTrue(range.start() >= s.range().start() && range.end() <= s.range().end() && !range.isEmpty(),
                context + ": stop range " + range + " outside the request");
        Set<Integer> errnos = new HashSet<>();
        collectErrnos(stop.error(), errnos);
        assertTrue(errnos.contains(Errno.ENOMEM) && errnos.contains(Errno.EINVAL), context + ": causes " + errnos + " of " + stop);
        SimMachine.Region broken = null;
        for (int i = 0; i < bed.m.regions.size(); i++) {
            SimMachine.Region r = bed.m.regions.get(i);
            boolean inside = r.region.overlaps(range.start(), range.size());
            if (inside) {
                assertTrue(r.region.contains(range.start(), range.size()), context + ": " + range + " spans regions");
                int a = r.page(range.start()), b = r.page(range.end());
                boolean wasPrivate = before[i].get(a);
                assertEquals(wasPrivate ? b - a : 0, before[i].get(a, b).cardinality(), context + ": " + range + " is not one run");
                assertTrue(wasPrivate != (s.target() == PageState.PRIVATE), context + ": " + range + " needed no conversion");
                if (r.ram.isBroken()) broken = r;
            }
            for (int p = 0; p < r.pages(); p++) {
                long gpa = r.gpa(p);
                if (range.start() <= gpa && gpa < range.end()) {
                    if (!r.ram.isBroken())
                        assertEquals(bed.m.kvm.isPrivate(bed.m.vm, gpa), r.ram.stateAt(gpa) == PageState.PRIVATE, context);
                    continue;
                }
                String where = context + ": 0x" + Long.toHexString(gpa) + " outside the stop range " + range;
                if (!r.ram.isBroken()) assertEquals(before[i].get(p), r.ram.stateAt(gpa) == PageState.PRIVATE, where + " (tracker)");
                assertEquals(before[i].get(p), bed.m.kvm.isPrivate(bed.m.vm, gpa), where + " (model)");
            }
        }
        if (broken != null) {
            SimMachine.Region b = broken;
            MemoryException e = assertThrows(MemoryException.class, () -> b.ram.convert(b.region.gpa(), P, PageState.SHARED), context);
            assertEquals(MemoryException.Step.CHECK, e.step());
            assertThrows(MemoryException.class, () -> b.ram.read(b.region.gpa(), 8), context);
            assertTrue(bed.convert(s) instanceof ConversionOutcome.Stop, context + ": a request into a broken region must stop again");
        }
    }

    private static void collectErrnos(Throwable t, Set<Integer> out) {
        if (t == null) return;
        if (t instanceof KvmException k) out.add(k.errno());
        collectErrnos(t.getCause(), out);
        for (Throwable s : t.getSuppressed()) collectErrnos(s, out);
    }
}
