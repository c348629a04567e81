package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.program.FaultPoints;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.MachineException;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.VmEvent;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Systematic fault injection over a VM's whole life on the software KVM: creation, memory setup, the platform's
 * launch, a guest converting its memory back and forth on every vCPU, a hot swap of the platform and of the memory
 * backend under it, and teardown. Each setup is run once clean, which tells every call the model can fail and how
 * often it was made; then each of those calls fails in turn (first, second, middle and last call) with each errno the
 * kernel documents for it ({@link FaultPoints}), on a fresh host.
 *
 * <p>After each case exactly one of these holds, or the case fails: the VM was refused at creation, the refusal naming
 * the call and its errno; or it ran to its end with every word the guest wrote read back exactly (a refused
 * conversion changed nothing; a completed one kept what the strategy promises), the fault absorbed (an EINTR retried,
 * a conversion refused and asked again); or it stopped with the exact cause, naming the call and the errno. And after
 * every case nothing is left: no file descriptor, memfd mapping or Janus thread more than before.
 */
class FaultMatrixTest {
    static final String RAM = "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"8M\" }";
    static final Duration WAIT = Duration.ofSeconds(60);
    static final int VCPUS = 2;
    static final int ROUNDS = 6;
    static final long STRIPE_PAGES = 16;
    static final long UNKNOWN = Long.MIN_VALUE;

    /** A VM's configuration: the profile its host models, its platform and its memory backend. */
    record Setup(String profile, String platform, String backend) {
        boolean converts() { return !platform.equals(ConfidentialPlatform.NONE); }

        @Override public String toString() { return platform + "/" + backend + " on " + profile; }
    }

    /** One case: the (position+1)-th call of {@code operation} fails with {@code errno}. */
    record Case(Setup setup, String operation, long position, int errno) {
        @Override public String toString() { return setup + ": " + operation + " #" + (position + 1) + " " + Errno.name(errno); }
    }

    static final List<Setup> SETUPS = List.of(
            new Setup("7.4-inplace", "sw-protected", "guest-memfd"),
            new Setup("inplace", "sw-protected", "guest-memfd"),
            new Setup("7.3", "sw-protected", "legacy"),
            new Setup("7.4-inplace", "none", "guest-memfd"));

    /** Outcomes by kind, over all cases of the run, for the summary at the end. */
    static final Map<String, AtomicInteger> OUTCOMES = new TreeMap<>();
    static Map<String, String> baselineFds;
    static long baselineMappings;
    static Set<Thread> baselineThreads;

    @BeforeAll
    static void baseline() throws Exception {
        // Once per setup, so that class loading and JNA's own files are the baseline, not a leak.
        for (Setup s : SETUPS) new Life(s, Machines.sim(SimProfile.byId(s.profile()))).run();
        Machines.awaitNoNewJanusThreads(Set.of());
        baselineFds = Machines.openFds();
        baselineMappings = Machines.memfdMappings();
        baselineThreads = Machines.janusThreads();
    }

    @AfterAll
    static void summary() {
        int total = OUTCOMES.values().stream().mapToInt(AtomicInteger::get).sum();
        System.out.println("fault matrix: " + total + " cases, " + OUTCOMES);
    }

    /** Every call a clean life of each setup makes, failed at each position with each documented errno. */
    static Stream<Case> cases() throws Exception {
        List<Case> out = new ArrayList<>();
        for (Setup s : SETUPS) {
            SimKvm kvm = Machines.sim(SimProfile.byId(s.profile()));
            Life clean = new Life(s, kvm);
            RunSummary r = clean.run();
            if (r == null || !r.endedNormally()) throw new AssertionError(s + ": the clean life did not end well: " + r);
            if (clean.swaps != 2) throw new AssertionError(s + ": the clean life swapped " + clean.swaps + " times, not twice");
            System.out.println("fault matrix: " + s + " makes " + kvm.faultPointCalls());
            for (Map.Entry<String, Long> e : kvm.faultPointCalls().entrySet())
                for (long position : FaultPoints.positions(e.getValue()))
                    for (int errno : FaultPoints.errnos(e.getKey())) out.add(new Case(s, e.getKey(), position, errno));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void eachCallFailingLeavesEveryByteAndNothingBehind(Case c) throws Exception {
        SimKvm kvm = Machines.sim(SimProfile.byId(c.setup().profile()));
        kvm.injectFault(c.operation(), c.errno(), (int) c.position());
        Life life = new Life(c.setup(), kvm);
        String outcome;
        String errnoName = Errno.name(c.errno());
        try {
            RunSummary r = life.run();
            if (r.endedNormally()) {
                assertEquals(null, life.guestProblem.get(), c + ": the guest's data");
                outcome = kvm.faultsFired() == 0 ? "not reached" : "absorbed";
            } else {
                String why = r.end().toString();
                assertTrue(why.contains(c.operation()) && why.contains(errnoName), c + ": the VM stopped without naming the fault: " + why
                        + "\n" + r.console());
                outcome = "stopped with the cause";
            }
        } catch (MachineException | SpecException e) {
            // A probe VM of the spec's type is created while the spec is checked: failing it refuses the spec.
            assertTrue(e.getMessage().contains(c.operation()) && e.getMessage().contains(errnoName),
                    c + ": refused without naming the fault: " + e.getMessage());
            if (e instanceof MachineException) assertEquals(0, e.getSuppressed().length, c + ": everything was released: " + List.of(e.getSuppressed()));
            assertEquals(List.of(), life.manager.list(), "no VM is registered");
            outcome = e instanceof SpecException ? "refused while the spec was checked" : "refused at creation";
        }
        assertTrue(kvm.faultsFired() <= 1, "each fault fires once");
        Machines.awaitNoNewJanusThreads(baselineThreads);
        Machines.assertNoNewFds(baselineFds);
        assertEquals(baselineMappings, Machines.memfdMappings(), c + ": memfd mappings left");
        synchronized (OUTCOMES) {
            OUTCOMES.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
        }
    }

    /**
     * One VM's life: created, started, a better platform and a better backend arrive halfway through the guest's
     * rounds (a hot swap of each), then the guest finishes and the VM is torn down. Returns its summary.
     */
    static final class Life {
        final Setup setup;
        final VmManagerImpl manager;
        final AtomicInteger halfway = new AtomicInteger();
        /** Opened when every vCPU is halfway, or when the VM ended before they all got there. */
        final CountDownLatch halfwayOrEnd = new CountDownLatch(1);
        /** Hot swaps the VM went through (2 in a life that reached halfway: its platform and its backend). */
        int swaps;
        final AtomicBoolean release = new AtomicBoolean();
        final AtomicReference<String> guestProblem = new AtomicReference<>();

        Life(Setup setup, SimKvm kvm) {
            this.setup = setup;
            ServiceDirectory services = new ServiceDirectory().addKvm(kvm).addGuest("converter", new Machines.TestGuest(this::program));
            manager = new VmManagerImpl(services);
            manager.addListener(e -> {
                if (e instanceof VmEvent.StateChanged c && c.to().isFinal()) halfwayOrEnd.countDown();
            });
            manager.addPlatform(new NonePlatform(), Map.of(ConfidentialPlatform.PROPERTY, ConfidentialPlatform.NONE));
            manager.addPlatform(new SwProtectedPlatform(), Map.of(ConfidentialPlatform.PROPERTY, ConfidentialPlatform.SW_PROTECTED));
            manager.addBackend(new GuestMemfdBackend(), Map.of(MemoryBackend.PROPERTY, "guest-memfd"));
            manager.addBackend(new LegacyBackend(true), Map.of(MemoryBackend.PROPERTY, "legacy"));
        }

        RunSummary run() throws Exception {
            String id = manager.create(SpecReader.read(Machines.spec(setup.profile(), setup.platform(), setup.backend(), RAM, "", VCPUS,
                    "converter"), null));
            try {
                manager.start(id);
                if (!halfwayOrEnd.await(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                    fail(setup + ": the guest never reached halfway: " + manager.state(id));
                if (!manager.state(id).isFinal()) {
                    manager.addPlatform(setup.converts() ? new SwProtectedPlatform() : new NonePlatform(),
                            Map.of(ConfidentialPlatform.PROPERTY, setup.platform(), "service.ranking", 10));
                    manager.addBackend(setup.backend().equals("legacy") ? new LegacyBackend(true) : new GuestMemfdBackend(),
                            Map.of(MemoryBackend.PROPERTY, setup.backend(), "service.ranking", 10));
                    swaps = manager.status(id).swaps();
                }
                release.set(true);
                return manager.awaitEnd(id, WAIT);
            } finally {
                release.set(true);
                if (manager.list().stream().anyMatch(v -> v.id().equals(id)) && !manager.state(id).isFinal()) manager.stop(id);
            }
        }

        /**
         * Each vCPU converts its own stripe to shared and to private in turn; after every answer it reads back what
         * it last wrote (exactly when the conversion was refused, as the strategy promises when it was done), then
         * writes a new word. Halfway through it waits, exiting all the while so that its vCPU can park for a swap.
         */
        private GuestProgram program(GuestProgramContext c) {
            return cpu -> {
                int v = cpu.vcpuId();
                long base = (v + 1) * (2L << 20);
                long expected = UNKNOWN;
                Boolean isPrivate = null;   // not known until a conversion is done
                for (int r = 0; r < ROUNDS; r++) {
                    if (r == ROUNDS / 2) {
                        if (halfway.incrementAndGet() == VCPUS) halfwayOrEnd.countDown();
                        while (!release.get()) cpu.in(0x80, 1);
                    }
                    if (setup.converts()) {
                        long attrs = r % 2 == 0 ? Hypercalls.MAP_GPA_RANGE_DECRYPTED : Hypercalls.MAP_GPA_RANGE_ENCRYPTED;
                        boolean toPrivate = attrs == Hypercalls.MAP_GPA_RANGE_ENCRYPTED;
                        long answer = cpu.mapGpaRange(base, STRIPE_PAGES, attrs);
                        // Done: the other face, as the strategy promises, unless the stripe was in that state already
                        // (a round whose request was refused leaves it so). Refused: nothing changed.
                        // From a state not known yet (the first request refused), what the stripe holds is not known.
                        if (answer == 0 && !Boolean.valueOf(toPrivate).equals(isPrivate)) {
                            if (isPrivate == null) expected = UNKNOWN;
                            else if (c.contents() != ConversionContents.PRESERVED)
                                expected = c.contents() == ConversionContents.ZEROED ? 0 : UNKNOWN;
                            isPrivate = toPrivate;
                        }
                    }
                    if (expected != UNKNOWN) {
                        long read = cpu.readLong(base);
                        if (read != expected) {
                            guestProblem.compareAndSet(null, "vCPU " + v + " round " + r + ": read 0x" + Long.toHexString(read)
                                    + ", wrote 0x" + Long.toHexString(expected));
                            throw new IllegalStateException(guestProblem.get());
                        }
                    }
                    long word = (long) (v + 1) << 48 | 0xfa17L << 16 | r;
                    cpu.writeLong(base, word);
                    expected = word;
                }
                cpu.hlt();
            };
        }
    }
}
