package org.janus.machine.internal;

import static org.janus.machine.internal.SimMachine.M;
import static org.janus.machine.internal.SimMachine.P;
import static org.janus.machine.internal.SimMachine.le;
import static org.janus.machine.internal.SimMachine.mapGpaRange;
import static org.janus.machine.internal.SimMachine.wordAddress;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.util.BitSet;
import java.util.List;
import java.util.stream.Stream;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.PagePin;
import org.janus.memory.api.ConversionListener;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryFigures;
import org.janus.memory.api.PageState;
import org.janus.memory.spi.BackedGuestRam;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The order in which listeners (the DMA users) hear of a conversion, seen through the kernel model at the moment
 * of each call: in place, {@code privatising} before the guest_memfd becomes private and {@code shared} after it
 * became shared; legacy, the VM attribute first, then the listeners, then the discard of the stale face. A listener
 * that refuses undoes the conversion; a pinned page is asked for again on EAGAIN, a bounded number of times.
 */
class ConversionListenerTest {
    private static final long K64 = 64 * 1024;

    static Stream<SimSetup> inPlace() { return SimSetup.all().stream().filter(s -> s.strategy() == SimSetup.Strategy.IN_PLACE); }

    static Stream<SimSetup> legacySwProtected() {
        return SimSetup.all().stream().filter(s -> s.strategy() != SimSetup.Strategy.IN_PLACE && !s.isSnp());
    }

    static Stream<SimSetup> everyStrategy() {
        return SimSetup.all().stream().filter(s -> !s.isSnp() || s.strategy() == SimSetup.Strategy.IN_PLACE);
    }

    private static SimMachine machine(SimSetup setup) {
        return new SimMachine(setup, SimMachine.Layout.small(PageState.SHARED, PageState.SHARED), 1);
    }

    private static RecordingListener listenTo(SimMachine m) {
        RecordingListener l = new RecordingListener(m.kvm, m.vm);
        for (SimMachine.Region r : m.regions) l.watch(r.ram);
        return l;
    }

    private static void assertListenerBalanced(SimMachine m, RecordingListener l, String context) {
        for (SimMachine.Region r : m.regions) {
            BitSet shared = new BitSet();
            shared.set(0, r.pages());
            shared.andNot(r.expectedPrivate);
            assertEquals(shared, l.mapped(r.ram), context + ": the listener's mappings of " + r.region.name());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("inPlace")
    void inPlaceListenersUnmapBeforeThePagesBecomePrivateAndMapAfterTheyBecameShared(SimSetup setup) {
        try (SimMachine m = machine(setup)) {
            RecordingListener l = listenTo(m);
            m.handle(mapGpaRange(GpaRange.of(M, K64), PageState.PRIVATE), setup + " to private");
            // At privatising time the model still has the pages shared: the pin can go before the kernel looks.
            assertEquals(List.of(new RecordingListener.Event("privatising", "low", M, K64, false, null)), l.events);
            assertTrue(m.kvm.isPrivate(m.vm, M));
            l.events.clear();
            m.handle(mapGpaRange(GpaRange.of(M, K64), PageState.SHARED), setup + " to shared");
            assertEquals(List.of(new RecordingListener.Event("shared", "low", M, K64, false, null)), l.events);
            l.events.clear();
            // One call per run that changes, region by region, in address order; runs already private are left alone.
            m.handle(mapGpaRange(GpaRange.of(7 * M, P), PageState.PRIVATE), setup.toString());
            l.events.clear();
            m.handle(mapGpaRange(GpaRange.of(6 * M, 4 * M), PageState.PRIVATE), setup + " across regions");
            assertEquals(List.of(new RecordingListener.Event("privatising", "low", 6 * M, M, false, null),
                    new RecordingListener.Event("privatising", "low", 7 * M + P, M - P, false, null),
                    new RecordingListener.Event("privatising", "low2", 8 * M, 2 * M, false, null)), l.events);
            assertListenerBalanced(m, l, setup.toString());
            m.check(setup.toString());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("legacySwProtected")
    void legacySetsTheAttributeThenTellsListenersThenDiscardsTheStaleFace(SimSetup setup) {
        boolean discards = setup.strategy().discards();
        GpaRange range = GpaRange.of(M, K64);
        try (SimMachine m = machine(setup); GuestDriver guest = new GuestDriver(m.vm, m::handle)) {
            m.enableMapGpaRangeExits();
            RecordingListener l = listenTo(m);
            l.measure = true;
            GuestRam low = m.region("low").ram;
            for (long g = range.start(); g < range.end(); g += P) m.hostWrite(g, g | 1, setup + " host write");
            long shared = low.figures().sharedAllocated();
            assertTrue(shared >= K64, setup + ": " + low.figures());

            m.handle(mapGpaRange(range, PageState.PRIVATE), setup + " to private");
            RecordingListener.Event e = l.events.get(0);
            assertEquals("privatising", e.kind());
            assertTrue(e.modelPrivate(), setup + ": the VM attribute must be private before listeners hear of it");
            assertEquals(shared, e.figures().sharedAllocated(), setup + ": the shared face was discarded before the listeners");
            assertEquals(discards ? shared - K64 : shared, low.figures().sharedAllocated(), setup + ": after " + e);

            // The guest fills its now private pages, so that the private face has something to discard.
            for (long g = range.start(); g < range.end(); g += P) {
                long at = g;
                guest.run(cpu -> cpu.write(wordAddress(at), le(at * 3 | 1)), setup + " guest write");
                m.guestWrote(at, PageState.PRIVATE, at * 3 | 1);
            }
            long priv = low.figures().privateAllocated();
            assertTrue(priv >= K64, setup + ": " + low.figures());
            l.events.clear();
            m.handle(mapGpaRange(range, PageState.SHARED), setup + " to shared");
            e = l.events.get(0);
            assertEquals("shared", e.kind());
            assertFalse(e.modelPrivate(), setup + ": the VM attribute must be shared before listeners hear of it");
            assertEquals(priv, e.figures().privateAllocated(), setup + ": the private face was discarded before the listeners");
            MemoryFigures after = low.figures();
            assertEquals(discards ? priv - K64 : priv, after.privateAllocated(), setup + ": after " + e);
            m.check(setup.toString());
        }
    }

    /**
     * A DMA user maps what became shared and may read it at once: when it is told, the pages must already be in
     * their new state, in place and legacy alike; while it is told to let go of pages, they must still be readable
     * in place (the attribute has not changed yet) and no longer in legacy (it has).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("everyStrategy")
    void listenersSeeThePagesInTheStateTheyAreToldAbout(SimSetup setup) {
        try (SimMachine m = machine(setup)) {
            GuestRam ram = m.regions.get(0).ram;
            long gpa = ram.region().gpa() + M;
            List<String> seen = new java.util.ArrayList<>();
            ram.addListener(new ConversionListener() {
                @Override public void privatising(GuestRam r, long g, long size) {
                    seen.add("privatising readable=" + readable(r, g));
                }

                @Override public void shared(GuestRam r, long g, long size) {
                    r.read(g, 8);
                    seen.add("shared readable=true");
                }
            });
            m.handle(mapGpaRange(GpaRange.of(gpa, M), PageState.PRIVATE), setup.toString());
            m.handle(mapGpaRange(GpaRange.of(gpa, M), PageState.SHARED), setup.toString());
            boolean inPlace = setup.strategy() == SimSetup.Strategy.IN_PLACE;
            assertEquals(List.of("privatising readable=" + inPlace, "shared readable=true"), seen, setup.toString());
        }
    }

    private static boolean readable(GuestRam ram, long gpa) {
        try {
            ram.read(gpa, 8);
            return true;
        } catch (org.janus.memory.api.MemoryException e) {
            return false;
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyStrategy")
    void aListenerThatRefusesUndoesTheWholeRequest(SimSetup setup) {
        try (SimMachine m = machine(setup)) {
            RecordingListener l = listenTo(m);
            GpaRange across = GpaRange.of(6 * M, 4 * M);
            for (long g = 5 * M; g < 11 * M; g += K64) m.hostWrite(g, g | 1, setup + " host write");
            // low converts first, then low2's listener refuses: low must be converted back.
            l.refuse = e -> e.region().equals("low2") && e.kind().equals("privatising");
            ConversionOutcome o = m.engine.handle(ConversionRequest.fromMapGpaRange(mapGpaRange(across, PageState.PRIVATE)));
            ConversionOutcome.Refused r = assertInstanceOf(ConversionOutcome.Refused.class, o, setup.toString());
            assertEquals(Errno.EINVAL, r.guestAnswer());
            assertTrue(r.reason().contains("refuses"), r.reason());
            // A listener refuses while the request begins: nothing was discarded, every face keeps its contents.
            m.assertModelMatchesEverywhere(setup + " after a refused privatising");
            assertListenerBalanced(m, l, setup + " after a refused privatising");
            m.check(setup + " after a refused privatising");

            l.refuse = e -> false;
            m.handle(mapGpaRange(across, PageState.PRIVATE), setup.toString());
            l.refuse = e -> e.region().equals("low2") && e.kind().equals("shared");
            o = m.engine.handle(ConversionRequest.fromMapGpaRange(mapGpaRange(across, PageState.SHARED)));
            assertInstanceOf(ConversionOutcome.Refused.class, o, setup.toString());
            m.assertModelMatchesEverywhere(setup + " after a refused shared");
            assertListenerBalanced(m, l, setup + " after a refused shared");
            m.check(setup + " after a refused shared");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("inPlace")
    void eagainIsRetriedThreeTimesThenAnsweredToTheGuest(SimSetup setup) {
        try (SimMachine m = machine(setup)) {
            RecordingListener l = listenTo(m);
            GpaRange range = GpaRange.of(M, K64);
            for (int i = 0; i < 3; i++) m.kvm.injectFault("KVM_SET_MEMORY_ATTRIBUTES2", Errno.EAGAIN, 0);
            m.handle(mapGpaRange(range, PageState.PRIVATE), setup + " three EAGAINs");
            // Asked once for the range, then once per EAGAIN for the page at error_offset.
            assertEquals(List.of(new RecordingListener.Event("privatising", "low", M, K64, false, null),
                    new RecordingListener.Event("privatising", "low", M, P, false, null),
                    new RecordingListener.Event("privatising", "low", M, P, false, null),
                    new RecordingListener.Event("privatising", "low", M, P, false, null)), l.events);

            m.handle(mapGpaRange(range, PageState.SHARED), setup.toString());
            for (int i = 0; i < 4; i++) m.kvm.injectFault("KVM_SET_MEMORY_ATTRIBUTES2", Errno.EAGAIN, 0);
            ConversionOutcome o = m.engine.handle(ConversionRequest.fromMapGpaRange(mapGpaRange(range, PageState.PRIVATE)));
            ConversionOutcome.Refused r = assertInstanceOf(ConversionOutcome.Refused.class, o, setup + " four EAGAINs");
            assertEquals(Errno.EAGAIN, r.guestAnswer(), r.reason());
            m.kvm.clearFaults();
            assertListenerBalanced(m, l, setup.toString());
            m.check(setup + " after four EAGAINs");
        }
    }

    /** A DMA user holding a real pin (vmsplice) on one page, releasing it on the {@code releaseOn}-th request. */
    static final class PinHolder implements ConversionListener {
        final long pinnedGpa;
        final int releaseOn;
        PagePin pin;
        int asked;

        PinHolder(PagePin pin, long pinnedGpa, int releaseOn) {
            this.pin = pin;
            this.pinnedGpa = pinnedGpa;
            this.releaseOn = releaseOn;
        }

        @Override public void privatising(GuestRam ram, long gpa, long size) {
            if (pin == null || pinnedGpa < gpa || pinnedGpa >= gpa + size) return;
            if (++asked >= releaseOn) {
                pin.close();
                pin = null;
            }
        }

        @Override public void shared(GuestRam ram, long gpa, long size) { }
    }

    /**
     * GuestRam does not hand out its mapping, and should not: a test-only seam reaches the backend's mapping by
     * reflection to take a real pin on a page of the guest_memfd, as a device doing DMA would.
     */
    private static HostMapping mappingOf(GuestRam ram) throws ReflectiveOperationException {
        Method m = BackedGuestRam.class.getDeclaredMethod("hostMapping");
        m.setAccessible(true);
        return (HostMapping) m.invoke(ram);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("inPlace")
    void aPinnedPageIsAskedForAgainAndTheGuestToldEagainIfItStaysPinned(SimSetup setup) throws Exception {
        try (SimMachine m = machine(setup)) {
            SimMachine.Region low = m.region("low");
            GpaRange range = GpaRange.of(M, 16 * P);
            long pinned = M + 9 * P;
            m.hostWrite(pinned, 0x5eed, setup.toString());

            PinHolder stubborn = new PinHolder(mappingOf(low.ram).pin(pinned - low.region.gpa(), P), pinned, Integer.MAX_VALUE);
            low.ram.addListener(stubborn);
            ConversionOutcome o = m.engine.handle(ConversionRequest.fromMapGpaRange(mapGpaRange(range, PageState.PRIVATE)));
            ConversionOutcome.Refused r = assertInstanceOf(ConversionOutcome.Refused.class, o, setup.toString());
            assertEquals(Errno.EAGAIN, r.guestAnswer(), r.reason());
            assertEquals(4, stubborn.asked, "asked with the range, then three times for the page at error_offset");
            m.assertModelMatchesEverywhere(setup + " after EAGAIN");
            m.check(setup + " after EAGAIN");
            stubborn.pin.close();
            low.ram.removeListener(stubborn);

            PinHolder dma = new PinHolder(mappingOf(low.ram).pin(pinned - low.region.gpa(), P), pinned, 2);
            low.ram.addListener(dma);
            m.handle(mapGpaRange(range, PageState.PRIVATE), setup + " released when asked again");
            assertEquals(2, dma.asked);
            assertTrue(m.kvm.isPrivate(m.vm, pinned));
            m.handle(mapGpaRange(range, PageState.SHARED), setup.toString());
            m.check(setup + " after the retry");
        }
    }
}
