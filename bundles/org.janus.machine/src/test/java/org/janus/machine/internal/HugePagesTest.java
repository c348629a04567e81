package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.MemoryFigures;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.api.Test;

/**
 * {@code memory.hugePages}: the legacy backend's shared face on hugetlb pages. The spec is checked (page size,
 * backend, whole huge pages, the host's pool), the kernel's refusal is one line, and a real hugetlb VM shows what
 * the option is for: a 4 KiB conversion punches 4 KiB of a huge page, which frees nothing.
 */
class HugePagesTest {
    private static final long M2 = 2L << 20;
    private static final Path NR_HUGEPAGES = Path.of("/proc/sys/vm/nr_hugepages");

    private static String spec(String profile, String backend, String hugePages, String ramSize, String guest) {
        return """
                { "name": "huge",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "x86" },
                  "platform": { "id": "sw-protected", "initialState": "shared" },
                  "memory": { "backend": "%s", "hugePages": %s, "ram": [ { "name": "ram", "gpa": 0, "size": "%s" } ] },
                  "vcpus": { "count": 1 }%s }
                """.formatted(profile, backend, hugePages, ramSize, guest == null ? "" : ", \"guest\": { \"program\": \"" + guest + "\" }");
    }

    private static List<SpecProblem> problems(VmManagerImpl m, String json) throws Exception {
        MachineSpec spec;
        try {
            spec = MachineSpec.parse(json, null);
        } catch (SpecException e) {
            return e.problems();
        }
        SpecException e = assertThrows(SpecException.class, () -> m.create(spec));
        assertTrue(m.list().isEmpty(), "a refused spec created a VM");
        return e.problems();
    }

    @Test
    void aPageSizeOtherThan2MOr1GIsOneProblem() throws Exception {
        List<SpecProblem> p = problems(new VmManagerImpl(Machines.services(Machines.sim(SimProfile.K7_3))),
                spec("7.3", "legacy", "\"3M\"", "16M", null));
        assertEquals(1, p.size(), p.toString());
        assertEquals("$.memory.hugePages", p.get(0).path());
        assertTrue(p.get(0).message().contains("\"2M\" or \"1G\""), p.get(0).message());
        p = problems(new VmManagerImpl(Machines.services(Machines.sim(SimProfile.K7_3))), spec("7.3", "legacy", "2", "16M", null));
        assertEquals("$.memory.hugePages", p.get(0).path(), p.toString());
    }

    @Test
    void inPlaceRamCannotHaveHugePages() throws Exception {
        List<SpecProblem> p = problems(new VmManagerImpl(Machines.services(Machines.sim(SimProfile.INPLACE))),
                spec("inplace", "guest-memfd", "\"2M\"", "16M", null));
        assertTrue(p.stream().anyMatch(x -> x.path().equals("$.memory.hugePages") && x.message().contains("hugetlb-backed guest_memfd")), p.toString());
    }

    @Test
    void aRegionOfPartHugePagesIsNamed() throws Exception {
        List<SpecProblem> p = problems(new VmManagerImpl(Machines.services(Machines.sim(SimProfile.K7_3))),
                spec("7.3", "legacy", "\"2M\"", "3M", null));
        assertTrue(p.stream().anyMatch(x -> x.path().equals("$.memory.ram[0]") && x.message().contains("whole 2 MiB pages")), p.toString());
    }

    @Test
    void aPoolWithTooFewFreePagesIsOneClearProblemAndNothingIsCreated() throws Exception {
        Map<String, String> fds = Machines.openFds();
        // 1 TiB of 2 MiB pages: more than this host's memory, so no pool can hold them.
        ServiceDirectory services = Machines.services(Machines.sim(SimProfile.K7_3)).addGuest("halt", new Machines.TestGuest(c -> cpu -> cpu.hlt()));
        List<SpecProblem> p = problems(new VmManagerImpl(services), spec("7.3", "legacy", "\"2M\"", "1T", "halt"));
        assertEquals(1, p.size(), p.toString());
        assertEquals("$.memory.hugePages", p.get(0).path());
        assertTrue(p.get(0).message().startsWith("the shared faces need 524288 free 2 MiB huge pages"), p.get(0).message());
        assertTrue(p.get(0).message().contains("reserve them first: echo "), p.get(0).message());
        Machines.assertNoNewFds(fds);
    }

    /** When the pool runs short after the check, the kernel refuses the mapping; the backend says so in one line. */
    @Test
    void theKernelsEnomemForAShortPoolIsOneLine() throws Exception {
        long available = HugePagePool.read(M2).map(HugePagePool::available).orElse(0L);
        SimKvm kvm = Machines.sim(SimProfile.K7_3);
        long size = (available + 1) * M2;
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            MemoryException e = assertThrows(MemoryException.class,
                    () -> new LegacyBackend(true).create(kvm, vm, new RamRegion("ram", 0, 0, size, M2), PageState.SHARED));
            assertTrue(e.getMessage().contains("needs " + (available + 1) + " free 2 MiB huge pages and the host's pool has fewer (mmap: ENOMEM)"),
                    e.getMessage());
            assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        }
    }

    /**
     * A real hugetlb VM: the guest writes each 2 MiB page shared, converts its first 4 KiB to private, writes it and
     * converts it back. Legacy with discard punches 4 KiB of the shared huge page at each to-private, which frees
     * nothing: every huge page stays allocated, next to the private pages while they exist. The pool lends its pages for the VM's
     * life and has them back after.
     */
    @Test
    void aFourKConversionInAHugePageFreesNothing() throws Exception {
        long pages = 8;
        long before = readLong(NR_HUGEPAGES);
        boolean reserved = false;
        try {
            reserved = reserve(before, pages);
            if (!reserved) {
                String why = "cannot reserve " + pages + " 2 MiB huge pages through " + NR_HUGEPAGES + " (not root, or memory too fragmented)";
                assumeTrue(false, why);
            }
            long freeAtStart = HugePagePool.read(M2).orElseThrow().free();
            AtomicLong freeWhileRunning = new AtomicLong(-1);
            ServiceDirectory s = Machines.services(Machines.sim(SimProfile.K7_3)).addGuest("sub-pages", new Machines.TestGuest(c -> cpu -> {
                byte[] word = {1, 2, 3, 4, 5, 6, 7, 8};
                for (long g = 0; g < pages * M2; g += M2) {
                    cpu.write(g, word);
                    assertEquals(0, cpu.mapGpaRange(g, 1, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K | Hypercalls.MAP_GPA_RANGE_ENCRYPTED));
                    cpu.write(g, word);
                    assertEquals(0, cpu.mapGpaRange(g, 1, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K | Hypercalls.MAP_GPA_RANGE_DECRYPTED));
                }
                freeWhileRunning.set(HugePagePool.read(M2).orElseThrow().free());
                cpu.hlt();
            }));
            VmManagerImpl m = new VmManagerImpl(s);
            String id = m.create(MachineSpec.parse(spec("7.3", "legacy", "\"2M\"", pages * 2 + "M", "sub-pages"), null));
            m.start(id);
            RunSummary r = m.awaitEnd(id, Duration.ofMinutes(2));
            assertTrue(r.endedNormally(), r.end() + " " + r.console());
            MemoryFigures f = r.memory().get(0).figures();
            assertEquals(pages * M2, f.sharedAllocated(), "every shared huge page stays allocated after its 4 KiB punch: " + f);
            assertEquals(0, f.privateAllocated(), "the private 4 KiB pages were discarded on the way back to shared: " + f);
            assertEquals(freeAtStart - pages, freeWhileRunning.get(), "the VM held " + pages + " huge pages of the pool");
            assertEquals(freeAtStart, HugePagePool.read(M2).orElseThrow().free(), "the pool has its pages back after the VM");
        } finally {
            if (reserved) Files.writeString(NR_HUGEPAGES, Long.toString(before));
        }
        if (readLong(NR_HUGEPAGES) != before) fail("nr_hugepages was not restored to " + before);
    }

    /** Raises the pool by {@code pages}; false (with the pool restored) when the kernel could not find them. */
    private static boolean reserve(long before, long pages) throws IOException {
        try {
            Files.writeString(NR_HUGEPAGES, Long.toString(before + pages));
        } catch (IOException notRoot) {
            return false;
        }
        if (HugePagePool.read(M2).map(HugePagePool::available).orElse(0L) >= pages) return true;
        Files.writeString(NR_HUGEPAGES, Long.toString(before));
        return false;
    }

    private static long readLong(Path p) throws IOException { return Long.parseLong(Files.readString(p).trim()); }
}
