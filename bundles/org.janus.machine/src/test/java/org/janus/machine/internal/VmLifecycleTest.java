package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLongArray;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.GuestPorts;
import org.janus.machine.RunSummary;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Whole VMs on the software KVM through the VM manager: start, pause, resume, stop, the ways a guest ends, and
 * that an ended VM leaves no thread, file descriptor or mapping behind.
 */
class VmLifecycleTest {
    static final String RAM = "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"16M\" }, { \"name\": \"high\", \"gpa\": \"1G\", \"size\": \"4M\" }";
    static final Duration WAIT = Duration.ofSeconds(30);

    /** Iterations each vCPU of the spinning guest has finished. */
    private final AtomicLongArray progress = new AtomicLongArray(4);
    private VmManagerImpl manager;
    private static volatile boolean release;
    /** vCPUs of the busy guest that have entered their loop (their KVM_RUN is in progress). */
    private final AtomicLongArray spinning = new AtomicLongArray(4);

    @BeforeAll
    static void warmUp() throws Exception {
        // Class loading and JNA open files once; the first VM of the JVM is the baseline's cost, not a leak.
        VmLifecycleTest t = new VmLifecycleTest();
        t.manager();
        t.manager.awaitEnd(t.run("halt", 1), WAIT);
    }

    @BeforeEach
    void manager() {
        manager = new VmManagerImpl(Machines.services(Machines.sim(SimProfile.INPLACE))
                .addGuest("spin", new Machines.TestGuest(c -> cpu -> {
                    while (true) {
                        cpu.out(0x80, 1, 1);
                        progress.incrementAndGet(cpu.vcpuId());
                    }
                }))
                .addGuest("halt", new Machines.TestGuest(c -> cpu -> cpu.hlt()))
                .addGuest("busy", new Machines.TestGuest(c -> cpu -> {
                    // Computes without a single exit until the test lets it go (a Java guest cannot be killed).
                    spinning.incrementAndGet(cpu.vcpuId());
                    while (!release) Thread.onSpinWait();
                    cpu.hlt();
                }))
                .addGuest("exit3", new Machines.TestGuest(c -> cpu -> {
                    if (cpu.vcpuId() == 1) cpu.out(GuestPorts.EXIT, 1, 3);
                    cpu.hlt();
                }))
                .addGuest("crash", new Machines.TestGuest(c -> cpu -> {
                    throw new IllegalStateException("guest check failed at 0x1000");
                }))
                .addGuest("convert", new Machines.TestGuest(c -> cpu -> {
                    long gpa = 0x200000L * (cpu.vcpuId() + 1);
                    long r1 = cpu.mapGpaRange(gpa, 512, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M | Hypercalls.MAP_GPA_RANGE_ENCRYPTED);
                    cpu.writeLong(gpa, 42);
                    long r2 = cpu.mapGpaRange(gpa, 512, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M);
                    if (r1 != 0 || r2 != 0 || cpu.readLong(gpa) != 42) throw new IllegalStateException("conversion: " + r1 + " " + r2);
                    cpu.hlt();
                })));
    }

    private String run(String guest, int vcpus) throws Exception {
        String id = create(guest, vcpus);
        manager.start(id);
        return id;
    }

    private String create(String guest, int vcpus) throws Exception {
        return manager.create(SpecReader.read(Machines.spec("inplace", "sw-protected", "auto", RAM, "", vcpus, guest), null));
    }

    private void awaitProgress(int vcpu, long beyond) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (progress.get(vcpu) <= beyond) {
            assertTrue(System.nanoTime() < deadline, "vCPU " + vcpu + " made no progress");
            Thread.sleep(5);
        }
    }

    @Test
    void startPauseResumeStopAndNothingIsLeft() throws Exception {
        var fds = Machines.openFds();
        long maps = Machines.memfdMappings();
        Set<Thread> threads = Machines.janusThreads();

        String id = create("spin", 2);
        assertInstanceOf(VmState.Created.class, manager.state(id));
        Thread.sleep(50);
        assertEquals(0, progress.get(0) + progress.get(1), "a created VM's vCPUs are parked");
        assertEquals(List.of(new VmManager.VmInfo(id, "test", "sw-protected", new VmState.Created())), manager.list());

        manager.start(id);
        assertInstanceOf(VmState.Running.class, manager.state(id));
        awaitProgress(0, 0);
        awaitProgress(1, 0);

        manager.pause(id);
        assertInstanceOf(VmState.Paused.class, manager.state(id));
        long p0 = progress.get(0);
        long p1 = progress.get(1);
        Thread.sleep(100);
        assertEquals(p0, progress.get(0), "a paused vCPU does not run");
        assertEquals(p1, progress.get(1), "a paused vCPU does not run");

        manager.resume(id);
        awaitProgress(0, p0 + 10);
        awaitProgress(1, p1 + 10);

        RunSummary s = manager.stop(id);
        assertEquals(new VmState.Stopped("stopped by the host"), s.end());
        assertEquals(new VmState.Stopped("stopped by the host"), manager.state(id));
        assertFalse(s.endedNormally());
        assertEquals(2, s.vcpus().size());
        assertTrue(s.vcpus().get(0).exits().get("io-out") >= p0 + 10, s.vcpus().toString());
        assertSame(s, manager.stop(id), "stopping an ended VM gives its summary again");

        Machines.awaitNoNewJanusThreads(threads);
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "memfd mappings");
    }

    @Test
    void aGuestThatNeverExitsCanBePausedAndStopped() throws Exception {
        Set<Thread> threads = Machines.janusThreads();
        String id = run("busy", 2);
        try {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (spinning.get(0) == 0 || spinning.get(1) == 0) {
                assertTrue(System.nanoTime() < deadline, "the busy guest did not start");
                Thread.sleep(1);
            }
            manager.pause(id);      // parks only because the kick brings KVM_RUN back without an exit
            assertInstanceOf(VmState.Paused.class, manager.state(id));
            manager.resume(id);
            RunSummary s = manager.stop(id);
            assertEquals(new VmState.Stopped("stopped by the host"), s.end());
            assertTrue(s.vcpus().stream().allMatch(v -> v.exits().getOrDefault("interrupted", 0L) >= 1), s.vcpus().toString());
        } finally {
            release = true;
        }
        Machines.awaitNoNewJanusThreads(threads);
    }

    @Test
    void stateChangesTheStateDoesNotAllowAreRefused() throws Exception {
        String id = create("spin", 1);
        assertThrows(IllegalStateException.class, () -> manager.pause(id));
        assertThrows(IllegalStateException.class, () -> manager.resume(id));
        manager.start(id);
        assertThrows(IllegalStateException.class, () -> manager.start(id));
        assertThrows(IllegalStateException.class, () -> manager.resume(id));
        manager.stop(id);
        assertThrows(IllegalStateException.class, () -> manager.start(id));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> manager.state("vm-99"));
        assertTrue(unknown.getMessage().contains("no VM vm-99"), unknown.getMessage());
    }

    @Test
    void aCreatedVmCanBeStoppedWithoutRunning() throws Exception {
        Set<Thread> threads = Machines.janusThreads();
        String id = create("halt", 3);
        RunSummary s = manager.stop(id);
        assertEquals(Duration.ZERO, s.ran());
        assertTrue(s.vcpus().stream().allMatch(v -> v.ending().equals("stopped") && v.totalExits() == 0), s.vcpus().toString());
        Machines.awaitNoNewJanusThreads(threads);
    }

    @Test
    void theGuestEndsTheVm() throws Exception {
        RunSummary halted = manager.awaitEnd(run("halt", 2), WAIT);
        assertTrue(halted.endedNormally());
        assertEquals(new VmState.Stopped("every vCPU halted (2 of 2)"), halted.end());
        assertTrue(halted.vcpus().stream().allMatch(v -> v.ending().equals("halted") && v.exits().get("hlt") == 1));

        RunSummary exit = manager.awaitEnd(run("exit3", 2), WAIT);
        assertFalse(exit.endedNormally());
        assertEquals(3, exit.guestExitCode().getAsInt());

        RunSummary crash = manager.awaitEnd(run("crash", 1), WAIT);
        assertInstanceOf(VmState.Failed.class, crash.end());
        assertTrue(crash.end().toString().contains("the guest program crashed: guest check failed at 0x1000"), crash.end().toString());
    }

    @Test
    void conversionsAndMemoryAreInTheSummary() throws Exception {
        RunSummary s = manager.awaitEnd(run("convert", 2), WAIT);
        assertTrue(s.endedNormally(), s.end().toString());
        // RAM starts private: the conversions to private find nothing to change, but cover their 2 MiB each.
        assertEquals(List.of(new RunSummary.ConversionCount("map-gpa-range", "to-private", 2, 2, 0, 4 << 20),
                new RunSummary.ConversionCount("map-gpa-range", "to-shared", 2, 2, 0, 4 << 20)), s.conversions());
        assertEquals(List.of("low", "high"), s.memory().stream().map(RunSummary.RegionFigures::name).toList());
        RunSummary.RegionFigures low = s.memory().get(0);
        assertEquals("guest-memfd", low.backend());
        assertEquals(16L << 20, low.figures().size());
        assertEquals((16L << 20) - (4L << 20), low.figures().privateBytes());
        assertTrue(s.backend().startsWith("guest-memfd (auto: "), s.backend());
        assertTrue(s.kvm().startsWith("sim (requested): profile inplace, hardware x86"), s.kvm());
    }

    @Test
    void awaitEndTimesOut() throws Exception {
        String id = run("spin", 1);
        TimeoutException e = assertThrows(TimeoutException.class, () -> manager.awaitEnd(id, Duration.ofMillis(50)));
        assertTrue(e.getMessage().contains("RUNNING"), e.getMessage());
        manager.stop(id);
    }
}
