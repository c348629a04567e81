package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.RunSummary;
import org.janus.machine.ServiceKind;
import org.janus.machine.SwapResult;
import org.janus.machine.VmEvent;
import org.janus.machine.VmState;
import org.janus.machine.VmStatus;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamHandover;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Platforms and memory backends replaced under running guests, through the same callbacks Declarative Services
 * calls: a better service arriving, the bound one going with and without a replacement, a replacement that cannot
 * take over, the grace period running out, explicit swap requests. The guest converts its own stripe of RAM back
 * and forth on every vCPU and checks its data after each step; it counts its own conversion requests, which must
 * equal the VM's counters at the end (none lost, none handled twice).
 */
class HotSwapTest {
    static final String RAM = "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"16M\" }";
    static final Duration WAIT = Duration.ofSeconds(60);
    static final int VCPUS = 2;
    static final long STRIPE = 64 << 10;

    /** Rounds each vCPU has finished (a round: to shared, check, write, to private, check, write). */
    private final AtomicLongArray rounds = new AtomicLongArray(VCPUS);
    /** MAP_GPA_RANGE requests each vCPU made and was answered 0. */
    private final AtomicLongArray requests = new AtomicLongArray(VCPUS);
    private final AtomicBoolean finish = new AtomicBoolean();
    private final AtomicReference<Throwable> guestFailure = new AtomicReference<>();
    private final List<VmEvent> events = new CopyOnWriteArrayList<>();
    private VmManagerImpl manager;
    private SwProtectedPlatform platform;
    private org.janus.kvm.sim.SimKvm kvm;

    @BeforeAll
    static void warmUp() throws Exception {
        // Class loading and JNA open files once: the first VM of the JVM is the baseline's cost, not a leak.
        HotSwapTest t = new HotSwapTest();
        t.setUp(SimProfile.INPLACE);
        String id = t.start("guest-memfd");
        t.finish.set(true);
        t.manager.awaitEnd(id, WAIT);
    }

    /**
     * A manager whose platforms and backends come and go through its DS callbacks; the guest converts a 64 KiB stripe
     * of its own per vCPU and checks every word it wrote, until told to finish.
     */
    private void setUp(SimProfile profile) {
        platform = new SwProtectedPlatform();
        kvm = Machines.sim(profile);
        ServiceDirectory services = new ServiceDirectory().addKvm(kvm)
                .addGuest("storm", new Machines.TestGuest(c -> cpu -> {
                    int v = cpu.vcpuId();
                    long base = (v + 1) * (2L << 20);
                    long sentinelAt = base + (1L << 20);
                    long sentinel = 0x5e471e1L << 8 | v;
                    cpu.writeLong(sentinelAt, sentinel);   // private, never converted: must survive every swap
                    long previous = -1;
                    for (long r = 0; !finish.get(); r++) {
                        long word = (long) v << 48 | r;
                        if (cpu.mapGpaRange(base, STRIPE / 4096, 0) != 0) throw new IllegalStateException("to shared refused, round " + r);
                        requests.incrementAndGet(v);
                        if (c.preservesContents() && previous != -1 && cpu.readLong(base + 8) != previous)
                            throw new IllegalStateException("round " + r + ": the private word did not survive going shared");
                        cpu.writeLong(base, word);
                        if (cpu.readLong(base) != word) throw new IllegalStateException("round " + r + ": shared word lost");
                        if (cpu.mapGpaRange(base, STRIPE / 4096, Hypercalls.MAP_GPA_RANGE_ENCRYPTED) != 0)
                            throw new IllegalStateException("to private refused, round " + r);
                        requests.incrementAndGet(v);
                        if (c.preservesContents() && cpu.readLong(base) != word)
                            throw new IllegalStateException("round " + r + ": the shared word did not survive going private");
                        cpu.writeLong(base + 8, ~word);
                        previous = ~word;
                        if (cpu.readLong(sentinelAt) != sentinel) throw new IllegalStateException("round " + r + ": the sentinel changed");
                        rounds.incrementAndGet(v);
                    }
                    cpu.hlt();
                }));
        manager = new VmManagerImpl(services);
        manager.addListener(events::add);
        manager.addPlatform(platform, Map.of(ConfidentialPlatform.PROPERTY, "sw-protected"));
        manager.addBackend(new GuestMemfdBackend(), Map.of(MemoryBackend.PROPERTY, "guest-memfd"));
        manager.addBackend(new LegacyBackend(true), Map.of(MemoryBackend.PROPERTY, "legacy"));
    }

    private String start(String backend) throws Exception {
        String id = manager.create(SpecReader.read(Machines.spec(profileFor(backend), "sw-protected", backend, RAM, "", VCPUS, "storm"), null));
        manager.start(id);
        return id;
    }

    private static String profileFor(String backend) { return backend.equals("legacy") ? "7.3" : "inplace"; }

    private void awaitRounds(long beyond) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        for (int v = 0; v < VCPUS; v++) {
            while (rounds.get(v) <= beyond) {
                assertTrue(System.nanoTime() < deadline, "vCPU " + v + " made no progress: " + rounds);
                Thread.sleep(2);
            }
        }
    }

    private long totalRounds() {
        long sum = 0;
        for (int v = 0; v < VCPUS; v++) sum += rounds.get(v);
        return sum;
    }

    /** Ends the guest, and checks that every request it made was counted once, none refused, its data intact. */
    private RunSummary finishAndCheck(String id) throws Exception {
        finish.set(true);
        RunSummary s = manager.awaitEnd(id, WAIT);
        assertTrue(s.endedNormally(), s.end() + "\n" + s.console());
        long asked = 0;
        for (int v = 0; v < VCPUS; v++) asked += requests.get(v);
        long done = s.conversions().stream().mapToLong(RunSummary.ConversionCount::done).sum();
        long received = s.conversions().stream().mapToLong(RunSummary.ConversionCount::requests).sum();
        long refused = s.conversions().stream().mapToLong(RunSummary.ConversionCount::refused).sum();
        assertEquals(asked, done, "conversions the guest made = conversions done: " + s.conversions());
        assertEquals(asked, received, "none received twice: " + s.conversions());
        assertEquals(0, refused, s.conversions().toString());
        return s;
    }

    private void awaitState(String id, Class<? extends VmState> wanted) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!wanted.isInstance(manager.state(id))) {
            assertTrue(System.nanoTime() < deadline, id + " is " + manager.state(id) + ", not " + wanted.getSimpleName());
            Thread.sleep(2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"guest-memfd", "legacy"})
    void aHigherRankedPlatformTakesOverARunningVm(String backend) throws Exception {
        setUp(backend.equals("legacy") ? SimProfile.K7_3 : SimProfile.INPLACE);
        String id = start(backend);
        awaitRounds(20);
        long before = totalRounds();
        SwProtectedPlatform better = new SwProtectedPlatform();
        manager.addPlatform(better, Map.of(ConfidentialPlatform.PROPERTY, "sw-protected", "service.ranking", 10));

        VmStatus status = manager.status(id);
        assertInstanceOf(VmState.Running.class, status.state());
        assertEquals(10, status.platform().ranking());
        assertEquals(1, status.swaps());
        VmEvent.Swapped swapped = (VmEvent.Swapped) events.stream().filter(e -> e instanceof VmEvent.Swapped).findFirst().orElseThrow();
        assertEquals(ServiceKind.PLATFORM, swapped.kind());
        assertEquals(0, swapped.from().ranking());
        assertEquals(10, swapped.to().ranking());
        assertTrue(swapped.pausedNanos() > 0);
        // Listeners see the swap as a short pause, the swap inside it: STOP, SWAPPED, RESUME to a QMP client.
        List<String> seen = events.stream().map(e -> e instanceof VmEvent.StateChanged c ? c.to().getClass().getSimpleName()
                : e.getClass().getSimpleName()).toList();
        assertEquals(List.of("Running", "Paused", "Running", "Swapped"), seen);
        assertTrue(events.stream().anyMatch(e -> e instanceof VmEvent.StateChanged c && c.to().toString().contains("replacing platform sw-protected")),
                events.toString());

        awaitRounds(before / VCPUS + 20);
        RunSummary s = finishAndCheck(id);
        assertTrue(s.conversions().stream().mapToLong(RunSummary.ConversionCount::done).sum() > 2 * before,
                "conversions went on after the swap: " + s.conversions());
    }

    @Test
    void aPlatformThatGoesAndComesBackPausesTheVmMeanwhile() throws Exception {
        setUp(SimProfile.INPLACE);
        String id = start("guest-memfd");
        awaitRounds(10);
        manager.removePlatform(platform);

        VmState paused = manager.state(id);
        assertInstanceOf(VmState.Paused.class, paused);
        assertTrue(paused.toString().contains("platform sw-protected went away; waiting up to 30 s for a replacement"), paused.toString());
        long frozen = totalRounds();
        List<VmStatus.Vcpu> parked = manager.status(id).vcpus();
        assertTrue(parked.stream().allMatch(v -> v.phase().equals("parked")), parked.toString());
        assertEquals("", manager.status(id).platform().bundle(), "outside a framework no bundle is known");
        IllegalStateException resume = assertThrows(IllegalStateException.class, () -> manager.resume(id));
        assertTrue(resume.getMessage().contains("resumes by itself"), resume.getMessage());
        assertEquals(frozen, totalRounds(), "no vCPU ran while the platform was away");

        SwProtectedPlatform replacement = new SwProtectedPlatform();
        manager.addPlatform(replacement, Map.of(ConfidentialPlatform.PROPERTY, "sw-protected"));
        assertInstanceOf(VmState.Running.class, manager.state(id));
        awaitRounds(frozen / VCPUS + 10);
        List<String> transitions = events.stream().filter(e -> e instanceof VmEvent.StateChanged)
                .map(e -> ((VmEvent.StateChanged) e).to().getClass().getSimpleName()).toList();
        assertEquals(List.of("Running", "Paused", "Running"), transitions);
        assertTrue(manager.status(id).log().stream().anyMatch(l -> l.contains("took the VM over")), manager.status(id).log().toString());
        finishAndCheck(id);
    }

    @Test
    void withoutAReplacementTheVmStopsWhenTheGracePeriodEnds() throws Exception {
        setUp(SimProfile.INPLACE);
        manager.graceNanos(Duration.ofMillis(200).toNanos());
        Set<Thread> threads = Machines.janusThreads();
        String id = start("guest-memfd");
        awaitRounds(5);
        manager.removePlatform(platform);
        RunSummary s = manager.awaitEnd(id, WAIT);
        assertEquals(new VmState.Stopped("platform sw-protected went away; no replacement came within 200 ms"), s.end());
        Machines.awaitNoNewJanusThreads(threads);
    }

    @Test
    void aReplacementThatRefusesTheVmLeavesItPausedSayingWhy() throws Exception {
        setUp(SimProfile.INPLACE);
        String id = start("guest-memfd");
        awaitRounds(5);
        manager.removePlatform(platform);
        long frozen = totalRounds();

        manager.addPlatform(new Refusing(), Map.of(ConfidentialPlatform.PROPERTY, "sw-protected"));
        VmState state = manager.state(id);
        assertInstanceOf(VmState.Paused.class, state);
        assertTrue(state.toString().contains("platform sw-protected refuses the VM's spec: $.platform.flavour: not served by this version"),
                state.toString());
        assertEquals(frozen, totalRounds());

        manager.addPlatform(new SwProtectedPlatform(), Map.of(ConfidentialPlatform.PROPERTY, "sw-protected", "service.ranking", -1));
        assertInstanceOf(VmState.Running.class, manager.state(id));
        finishAndCheck(id);
    }

    @Test
    void aSwapRequestThatCannotBeServedChangesNothing() throws Exception {
        setUp(SimProfile.INPLACE);
        manager.addPlatform(new org.janus.platform.none.internal.NonePlatform(), Map.of(ConfidentialPlatform.PROPERTY, "none"));
        String id = start("guest-memfd");
        awaitRounds(5);
        VmStatus before = manager.status(id);

        IllegalStateException other = assertThrows(IllegalStateException.class, () -> manager.swap(id, ServiceKind.PLATFORM, "none"));
        assertTrue(other.getMessage().contains("platform none cannot take over a sw-protected VM"), other.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> manager.swap(id, ServiceKind.BACKEND, "hugetlb"));
        assertTrue(missing.getMessage().contains("no backend hugetlb is registered"), missing.getMessage());
        IllegalStateException legacy = assertThrows(IllegalStateException.class, () -> manager.swap(id, ServiceKind.BACKEND, "legacy"));
        assertTrue(legacy.getMessage().contains("backend legacy cannot take over RAM of the guest-memfd backend"), legacy.getMessage());

        SwapResult same = manager.swap(id, ServiceKind.PLATFORM, null);
        assertTrue(!same.swapped() && same.pausedNanos() == 0, same.toString());
        VmStatus after = manager.status(id);
        assertInstanceOf(VmState.Running.class, after.state());
        assertEquals(0, after.swaps());
        assertEquals(before.platform().id(), after.platform().id());
        finishAndCheck(id);
    }

    @ParameterizedTest
    @ValueSource(strings = {"guest-memfd", "legacy"})
    void aNewBackendInstanceTakesOverTheRamOfARunningVm(String backend) throws Exception {
        setUp(backend.equals("legacy") ? SimProfile.K7_3 : SimProfile.INPLACE);
        var fds = Machines.openFds();
        long maps = Machines.memfdMappings();
        String id = start(backend);
        awaitRounds(20);
        List<GuestRam> oldRam = manager.status(id).vcpus().isEmpty() ? List.of() : ramOf(id);

        MemoryBackend next = backend.equals("legacy") ? new LegacyBackend(true) : new GuestMemfdBackend();
        manager.addBackend(next, Map.of(MemoryBackend.PROPERTY, backend, "service.ranking", 5));
        VmStatus status = manager.status(id);
        assertEquals(5, status.backend().ranking());
        assertEquals(1, status.swaps());
        List<GuestRam> newRam = ramOf(id);
        assertNotSame(oldRam.get(0), newRam.get(0), "the RAM is served by the new backend's object");
        MemoryException handedOver = assertThrows(MemoryException.class, () -> oldRam.get(0).read(0x300000, 8));
        assertTrue(handedOver.getMessage().contains("handed over"), handedOver.getMessage());
        manager.pause(id);
        assertEquals(manager.memoryMap(id).get(0).runs(), newRam.get(0).runs(0, 16 << 20), "the map is the new RAM's");
        for (long gpa : new long[] {0x200000, 0x400000, 0x300000}) {
            assertEquals(kvm.isPrivate(vm(id).assembly().vm, gpa), newRam.get(0).stateAt(gpa) == PageState.PRIVATE,
                    "the page states came along: the new RAM agrees with KVM at 0x" + Long.toHexString(gpa));
        }
        manager.resume(id);

        long at = totalRounds();
        awaitRounds(at / VCPUS + 20);
        RunSummary s = finishAndCheck(id);
        assertEquals(backend, s.memory().get(0).backend());
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "memfd mappings: the adopted RAM released everything once");
    }

    @Test
    void aBackendThatCannotAdoptLeavesTheOldOneServing() throws Exception {
        setUp(SimProfile.INPLACE);
        String id = start("guest-memfd");
        awaitRounds(5);
        GuestRam before = ramOf(id).get(0);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
            manager.addBackend(new FailingAdopter(), Map.of(MemoryBackend.PROPERTY, "guest-memfd", "service.ranking", 5));
            manager.swap(id, ServiceKind.BACKEND, null);
        });
        assertTrue(e.getMessage().contains("could not take over the RAM: ") && e.getMessage().contains("no memory today"), e.getMessage());
        assertSame(before, ramOf(id).get(0));
        assertInstanceOf(VmState.Running.class, manager.state(id));
        assertEquals(0, manager.status(id).swaps());
        long at = totalRounds();
        awaitRounds(at / VCPUS + 5);
        finishAndCheck(id);
    }

    @Test
    void aBackendThatGoesAndComesBackPausesTheVmMeanwhile() throws Exception {
        setUp(SimProfile.K7_3);
        String id = start("legacy");
        awaitRounds(5);
        MemoryBackend bound = (MemoryBackend) vm(id).bound(ServiceKind.BACKEND);
        manager.removeBackend(bound);
        assertTrue(manager.state(id).toString().contains("backend legacy went away"), manager.state(id).toString());
        long frozen = totalRounds();
        assertEquals(frozen, totalRounds());
        manager.addBackend(new LegacyBackend(true), Map.of(MemoryBackend.PROPERTY, "legacy"));
        assertInstanceOf(VmState.Running.class, manager.state(id));
        awaitRounds(frozen / VCPUS + 5);
        finishAndCheck(id);
    }

    /**
     * The figures of the note: repeated swaps of a running VM between two platform instances, the pause of each
     * in milliseconds and in exits handled on the way to parking, and the guest's conversions before, during
     * (while swaps happened) and after.
     */
    @Test
    void repeatedSwapsLoseNothing() throws Exception {
        setUp(SimProfile.INPLACE);
        String id = start("guest-memfd");
        awaitRounds(10);
        long before = manager.status(id).conversionsDone();
        SwProtectedPlatform other = new SwProtectedPlatform();
        manager.addPlatform(other, Map.of(ConfidentialPlatform.PROPERTY, "sw-protected", "service.ranking", 1));
        events.clear();
        List<Long> pauses = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            // Take the preferred one away and bring it back: two swaps, each to the remaining instance.
            ConfidentialPlatform bound = (ConfidentialPlatform) vm(id).bound(ServiceKind.PLATFORM);
            long r = totalRounds();
            manager.removePlatform(bound);
            manager.addPlatform(bound, Map.of(ConfidentialPlatform.PROPERTY, "sw-protected", "service.ranking", i + 2));
            awaitRounds(r / VCPUS + 1);
        }
        long during = manager.status(id).conversionsDone() - before;
        List<VmEvent.Swapped> swaps = events.stream().filter(e -> e instanceof VmEvent.Swapped).map(e -> (VmEvent.Swapped) e).toList();
        assertEquals(80, swaps.size());
        for (VmEvent.Swapped s : swaps) pauses.add(s.pausedNanos());
        List<Long> sorted = pauses.stream().sorted().toList();
        List<Long> exits = swaps.stream().map(VmEvent.Swapped::exitsToPark).sorted().toList();
        long atEnd = manager.status(id).conversionsDone();
        awaitRounds(totalRounds() / VCPUS + 10);
        RunSummary s = finishAndCheck(id);
        long total = s.conversions().stream().mapToLong(RunSummary.ConversionCount::done).sum();
        System.out.printf("hot swap: %d swaps of a running %d-vCPU VM; pause median %.3f ms, max %.3f ms; exits to park median %d, max %d;"
                        + " conversions before %d, during %d, after %d, total %d, lost 0%n",
                swaps.size(), VCPUS, sorted.get(sorted.size() / 2) / 1e6, sorted.get(sorted.size() - 1) / 1e6,
                exits.get(exits.size() / 2), exits.get(exits.size() - 1), before, during, total - atEnd, total);
        assertTrue(during > 0, "conversions went on while swapping");
    }

    private VmInstance vm(String id) throws Exception {
        var f = VmManagerImpl.class.getDeclaredField("vms");
        f.setAccessible(true);
        @SuppressWarnings("unchecked") Map<String, VmInstance> vms = (Map<String, VmInstance>) f.get(manager);
        return vms.get(id);
    }

    private List<GuestRam> ramOf(String id) throws Exception { return vm(id).withRam(List::copyOf); }

    /** A sw-protected platform of a version that refuses every spec. */
    static final class Refusing implements ConfidentialPlatform {
        private final SwProtectedPlatform real = new SwProtectedPlatform();

        @Override public String id() { return SW_PROTECTED; }

        @Override public long vmType(Kvm kvm) { return real.vmType(kvm); }

        @Override public Support support(Kvm kvm) { return real.support(kvm); }

        @Override public PageState initialRamState() { return real.initialRamState(); }

        @Override public List<Problem> validate(PlatformSpec spec) { return List.of(new Problem("$.platform.flavour", "not served by this version")); }

        @Override public void initVm(org.janus.platform.api.VmContext c) { real.initVm(c); }

        @Override public void initVcpu(org.janus.platform.api.VmContext c, org.janus.kvm.api.KvmVcpu v) { real.initVcpu(c, v); }

        @Override public org.janus.platform.api.LaunchResult launch(org.janus.platform.api.VmContext c) { return real.launch(c); }

        @Override public ExitAction onExit(org.janus.platform.api.VmContext c, org.janus.kvm.api.KvmVcpu v, org.janus.kvm.api.VcpuExit e) {
            return real.onExit(c, v, e);
        }

        @Override public java.util.Optional<byte[]> expectedMeasurement(PlatformSpec spec) { return java.util.Optional.empty(); }
    }

    /** A guest-memfd backend whose adoption fails after the first region (here: the only one) was looked at. */
    static final class FailingAdopter implements MemoryBackend {
        private final GuestMemfdBackend real = new GuestMemfdBackend();

        @Override public String id() { return GUEST_MEMFD; }

        @Override public Suitability suitability(KvmVm vm) { return real.suitability(vm); }

        @Override public GuestRam create(Kvm kvm, KvmVm vm, RamRegion region, PageState initial) { return real.create(kvm, vm, region, initial); }

        @Override public GuestRam adopt(Kvm kvm, KvmVm vm, RamHandover handover) {
            throw new MemoryException(handover.region().name(), MemoryException.Step.CHECK, null, "no memory today", null);
        }
    }
}
