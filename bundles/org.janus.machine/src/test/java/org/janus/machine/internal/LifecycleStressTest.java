package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.RunSummary;
import org.janus.machine.ServiceKind;
import org.janus.machine.VmState;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.api.Test;

/**
 * No deadlock between what happens to a running VM at once, one pair per test: its vCPUs converting (always, the
 * guest converts its stripe back and forth), hot swap of its memory backend (the DS callbacks addBackend and
 * removeBackend, and explicit swaps), pause/resume, and stop. Each side runs a fixed number of iterations chosen by
 * a seeded random (fixed seed; another with {@code -Djanus.stress.seed=N}); every wait is bounded, and a failure
 * names the pair and the seed, with the threads' stacks when something hangs. A refusal
 * (IllegalStateException/IllegalArgumentException, e.g. resuming a VM that waits for a backend) is an answer; any
 * other exception, a guest that saw its memory change under it, or a conversion lost or counted twice is a failure.
 */
class LifecycleStressTest {
    static final Duration WAIT = Duration.ofSeconds(60);
    static final long SEED = Long.getLong("janus.stress.seed", 20261202L);
    static final int ITERATIONS = 40;
    static final long STRIPE = 64 << 10;

    enum Activity { CONVERSIONS, HOT_SWAP, PAUSE_RESUME, STOP }

    private final AtomicBoolean finish = new AtomicBoolean();
    private final AtomicLong guestRequests = new AtomicLong();
    private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    private VmManagerImpl manager;
    private String id;
    private final List<MemoryBackend> backends = new ArrayList<>();
    private int ranking;

    /** A VM whose two vCPUs each convert a 64 KiB stripe of their own to shared and back, checking a word each time. */
    private void start() throws Exception {
        ServiceDirectory services = new ServiceDirectory().addKvm(Machines.sim(SimProfile.INPLACE))
                .addGuest("storm", new Machines.TestGuest(c -> cpu -> {
                    long base = (cpu.vcpuId() + 1) * (2L << 20);
                    for (long r = 0; !finish.get(); r++) {
                        if (cpu.mapGpaRange(base, STRIPE / 4096, 0) != 0) throw new IllegalStateException("to shared refused, round " + r);
                        guestRequests.incrementAndGet();
                        cpu.writeLong(base, r);
                        if (cpu.mapGpaRange(base, STRIPE / 4096, Hypercalls.MAP_GPA_RANGE_ENCRYPTED) != 0)
                            throw new IllegalStateException("to private refused, round " + r);
                        guestRequests.incrementAndGet();
                        if (cpu.readLong(base) != r) throw new IllegalStateException("round " + r + ": the word did not survive going private");
                    }
                    cpu.hlt();
                }));
        manager = new VmManagerImpl(services);
        manager.addPlatform(new SwProtectedPlatform(), Map.of(ConfidentialPlatform.PROPERTY, "sw-protected"));
        MemoryBackend first = new GuestMemfdBackend();
        backends.add(first);
        manager.addBackend(first, Map.of(MemoryBackend.PROPERTY, "guest-memfd"));
        id = manager.create(SpecReader.read(Machines.spec("inplace", "sw-protected", "guest-memfd",
                "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"16M\" }", "", 2, "storm"), null));
        manager.start(id);
    }

    /** One step of an activity, on the host's side (the vCPUs' conversions need no host thread). */
    private void step(Activity a, Random random) {
        try {
            switch (a) {
                case CONVERSIONS -> Thread.onSpinWait();
                case HOT_SWAP -> {
                    if (random.nextInt(3) == 0) {
                        manager.swap(id, ServiceKind.BACKEND, null);
                    } else {
                        // A newer instance arrives (the VM moves to it), then an older one goes.
                        MemoryBackend next = new GuestMemfdBackend();
                        synchronized (backends) {
                            backends.add(next);
                            ranking++;
                        }
                        manager.addBackend(next, Map.of(MemoryBackend.PROPERTY, "guest-memfd", "service.ranking", ranking));
                        MemoryBackend old;
                        synchronized (backends) {
                            old = backends.size() > 2 ? backends.remove(0) : null;
                        }
                        if (old != null) manager.removeBackend(old);
                    }
                }
                case PAUSE_RESUME -> {
                    manager.pause(id);
                    if (random.nextBoolean()) Thread.yield();
                    manager.resume(id);
                }
                case STOP -> manager.stop(id);
            }
        } catch (IllegalStateException | IllegalArgumentException refused) {
            // an answer: the VM is stopping, waiting for a service, already paused, ...
        } catch (RuntimeException e) {
            failures.add(a + ": " + e);
        }
    }

    private void pair(Activity x, Activity y) throws Exception {
        String name = x + " x " + y + ", seed " + SEED;
        Set<Thread> before = Machines.janusThreads();
        start();
        Random seeds = new Random(SEED ^ (x.ordinal() * 7L + y.ordinal()));
        List<Thread> threads = new ArrayList<>();
        for (Activity a : List.of(x, y)) {
            Random random = new Random(seeds.nextLong());
            // STOP happens once, after a seeded number of the other side's steps; the others step ITERATIONS times.
            int stopAfter = random.nextInt(ITERATIONS);
            Thread t = new Thread(() -> {
                if (a == Activity.STOP) {
                    for (int i = 0; i < stopAfter; i++) Thread.yield();
                    step(a, random);
                    return;
                }
                for (int i = 0; i < ITERATIONS; i++) step(a, random);
            }, "stress-" + a.name().toLowerCase());
            threads.add(t);
        }
        threads.forEach(Thread::start);
        long deadline = System.nanoTime() + WAIT.toNanos();
        for (Thread t : threads) {
            t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            if (t.isAlive()) fail(name + ": " + t.getName() + " made no progress within " + WAIT.toSeconds() + " s (deadlock?)\n" + stacks());
        }
        assertTrue(failures.isEmpty(), name + ": " + failures);

        boolean stopped = x == Activity.STOP || y == Activity.STOP;
        if (!stopped && (x == Activity.HOT_SWAP || y == Activity.HOT_SWAP))
            assertTrue(manager.status(id).swaps() > 0, name + ": the backend was never swapped");

        // Let the guest finish: resume it if a pause was left, then wait for its end, bounded.
        finish.set(true);
        if (manager.state(id) instanceof VmState.Paused) {
            try {
                manager.resume(id);
            } catch (IllegalStateException waiting) {
                // paused for a swap: it resumes by itself
            }
        }
        RunSummary s;
        try {
            s = manager.awaitEnd(id, WAIT);
        } catch (java.util.concurrent.TimeoutException e) {
            fail(name + ": the VM did not end within " + WAIT.toSeconds() + " s, " + manager.state(id) + "\n" + stacks());
            return;
        }
        if (!stopped) assertTrue(guestRequests.get() > 0, name + ": the guest converted nothing");
        if (stopped) assertEquals(new VmState.Stopped("stopped by the host"), s.end(), name + "\n" + s.console());
        else assertTrue(s.endedNormally(), name + ": " + s.end() + "\n" + s.console());
        long received = s.conversions().stream().mapToLong(RunSummary.ConversionCount::requests).sum();
        long done = s.conversions().stream().mapToLong(RunSummary.ConversionCount::done).sum();
        long refused = s.conversions().stream().mapToLong(RunSummary.ConversionCount::refused).sum();
        assertEquals(0, refused, name + ": " + s.conversions());
        // A request in flight when the VM stopped may have been counted without the guest seeing its answer.
        if (stopped) assertTrue(received - guestRequests.get() <= 2, name + ": guest " + guestRequests + ", VM " + s.conversions());
        else assertEquals(guestRequests.get(), done, name + ": each request counted once: " + s.conversions());
        Machines.awaitNoNewJanusThreads(before);
    }

    private static String stacks() {
        return Thread.getAllStackTraces().entrySet().stream()
                .filter(e -> e.getKey().getName().startsWith("janus-") || e.getKey().getName().startsWith("stress-"))
                .map(e -> e.getKey().getName() + " " + e.getKey().getState() + "\n  at "
                        + java.util.Arrays.stream(e.getValue()).limit(25).map(String::valueOf).collect(Collectors.joining("\n  at ")))
                .collect(Collectors.joining("\n"));
    }

    @Test
    void conversionsAndHotSwap() throws Exception { pair(Activity.CONVERSIONS, Activity.HOT_SWAP); }

    @Test
    void conversionsAndPauseResume() throws Exception { pair(Activity.CONVERSIONS, Activity.PAUSE_RESUME); }

    @Test
    void conversionsAndStop() throws Exception { pair(Activity.CONVERSIONS, Activity.STOP); }

    @Test
    void hotSwapAndPauseResume() throws Exception { pair(Activity.HOT_SWAP, Activity.PAUSE_RESUME); }

    @Test
    void hotSwapAndStop() throws Exception { pair(Activity.HOT_SWAP, Activity.STOP); }

    @Test
    void pauseResumeAndStop() throws Exception { pair(Activity.PAUSE_RESUME, Activity.STOP); }
}
