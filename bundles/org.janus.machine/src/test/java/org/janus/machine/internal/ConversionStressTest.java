package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Many vCPUs converting overlapping ranges at once through the VM's door, bounded by iterations: every request gets
 * the answer its range and target call for whatever runs beside it (0, or EINVAL for private over the MMIO hole),
 * nothing breaks, and at the end the tracker's page states are the software KVM's and add up to privateBytes. The
 * seed is fixed (another with {@code -Djanus.stress.seed=N}) and named in every failure.
 */
class ConversionStressTest {
    static final long P = 4096;
    static final long M = 1 << 20;
    static final int THREADS = 4;
    static final int ITERATIONS = 1500;
    static final long SEED = Long.getLong("janus.stress.seed", 20261202L);

    @ParameterizedTest
    @ValueSource(strings = {"guest-memfd", "legacy"})
    void overlappingConversionsFromManyVcpus(String backendId) throws Exception {
        SimKvm kvm = SimKvm.create(backendId.equals("legacy") ? SimProfile.K7_3 : SimProfile.INPLACE, SimHardware.X86);
        MemoryBackend backend = backendId.equals("legacy") ? new LegacyBackend(true) : new GuestMemfdBackend();
        String where = backendId + ", seed " + SEED;
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);
             GuestRam low = backend.create(kvm, vm, new RamRegion("low", 0, 0, M), PageState.SHARED);
             GuestRam high = backend.create(kvm, vm, new RamRegion("high", 1, 2 * M, M), PageState.SHARED)) {
            VmConversions door = new VmConversions(new ConversionEngine(
                    new GuestMemoryMap(List.of(low, high), List.of(new MmioHole("dev", M, 64 << 10)))));
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<String>> vcpus = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                Random random = new Random(SEED * 31 + t);
                int vcpu = t;
                vcpus.add(pool.submit(() -> {
                    for (int i = 0; i < ITERATIONS; i++) {
                        // Ranges over [0, 3 MiB): both regions, the hole between them and the unassigned space after it.
                        long first = random.nextInt(768);
                        long pages = 1 + random.nextInt(Math.min(64, 768 - (int) first));
                        boolean priv = random.nextBoolean();
                        long answer = door.handle(ConversionRequest.fromMapGpaRange(SimMachine.mapGpaRange(first * P, pages,
                                priv ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : 0))).guestAnswer();
                        boolean overNonRam = first * P < 2 * M && (first + pages) * P > M;
                        long expected = priv && overNonRam ? Errno.EINVAL : 0;
                        if (answer != expected)
                            return "vCPU " + vcpu + " request " + i + " [0x" + Long.toHexString(first * P) + ", +" + pages
                                    + " pages) " + (priv ? "private" : "shared") + " answered " + answer + ", expected " + expected;
                    }
                    return null;
                }));
            }
            pool.shutdown();
            if (!pool.awaitTermination(120, TimeUnit.SECONDS)) {
                pool.shutdownNow();
                throw new TimeoutException(where + ": the vCPUs did not finish " + ITERATIONS + " requests each within 120 s");
            }
            for (Future<String> f : vcpus) {
                String failure = f.get();
                assertTrue(failure == null, where + ": " + failure);
            }
            long privatePages = 0;
            for (GuestRam ram : List.of(low, high)) {
                assertTrue(!ram.isBroken(), where + ": " + ram.region().name() + " broke");
                for (long gpa = ram.region().gpa(); gpa < ram.region().end(); gpa += P) {
                    boolean tracked = ram.stateAt(gpa) == PageState.PRIVATE;
                    assertEquals(kvm.isPrivate(vm, gpa), tracked, where + ": tracker and KVM disagree at 0x" + Long.toHexString(gpa));
                    if (tracked) privatePages++;
                }
            }
            assertEquals(privatePages * P, low.privateBytes() + high.privateBytes(), where);
            assertEquals((long) THREADS * ITERATIONS, door.counters().snapshot().stream()
                    .mapToLong(org.janus.machine.RunSummary.ConversionCount::requests).sum(), where + ": every request counted once");
        }
    }
}
