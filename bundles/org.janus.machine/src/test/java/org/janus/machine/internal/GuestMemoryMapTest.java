package org.janus.machine.internal;

import static org.janus.machine.internal.SimMachine.M;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The guest memory map: areas in order with the gaps filled in, and overlaps refused naming both areas. */
class GuestMemoryMapTest {
    private final SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
    private final List<KvmVm> vms = new ArrayList<>();
    private final List<GuestRam> rams = new ArrayList<>();

    /** RAM in a VM of its own, so that regions overlapping each other can exist for the map to refuse. */
    private GuestRam ram(String name, long gpa, long size) {
        KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);
        vms.add(vm);
        GuestRam r = new LegacyBackend(true).create(kvm, vm, new RamRegion(name, 0, gpa, size), PageState.SHARED);
        rams.add(r);
        return r;
    }

    @AfterEach
    void close() {
        rams.forEach(GuestRam::close);
        vms.forEach(KvmVm::close);
    }

    @Test
    void areasComeInOrderWithGapsFilledAndEndsClipped() {
        GuestRam low = ram("low", 0, 8 * M), low2 = ram("low2", 8 * M, 4 * M), high = ram("high", 32 * M, 4 * M);
        GuestMemoryMap map = new GuestMemoryMap(List.of(high, low2, low), List.of(new MmioHole("dev", 12 * M, M)));
        assertEquals(List.of(low, low2, high), map.rams());
        assertEquals(List.of(new GuestMemoryMap.Ram(new GpaRange(7 * M, 8 * M), low), new GuestMemoryMap.Ram(new GpaRange(8 * M, 12 * M), low2),
                new GuestMemoryMap.Mmio(new GpaRange(12 * M, 13 * M), new MmioHole("dev", 12 * M, M)),
                new GuestMemoryMap.Unassigned(new GpaRange(13 * M, 32 * M)), new GuestMemoryMap.Ram(new GpaRange(32 * M, 33 * M), high)),
                map.areas(7 * M, 33 * M));
        assertEquals(List.of(new GuestMemoryMap.Mmio(new GpaRange(12 * M + 4096, 12 * M + 8192), new MmioHole("dev", 12 * M, M))),
                map.areas(12 * M + 4096, 12 * M + 8192));
        assertEquals(List.of(new GuestMemoryMap.Unassigned(new GpaRange(20 * M, 30 * M))), map.areas(20 * M, 30 * M));
        assertEquals(List.of(new GuestMemoryMap.Unassigned(new GpaRange(36 * M, 40 * M))), map.areas(36 * M, 40 * M));
        assertEquals(List.of(new GuestMemoryMap.Ram(new GpaRange(M, 2 * M), low)), map.areas(M, 2 * M));
        assertEquals(List.of(), map.areas(40 * M, 40 * M + 0), "an empty range has no areas");
        assertEquals(List.of(new GuestMemoryMap.Unassigned(new GpaRange(0, 4096))),
                new GuestMemoryMap(List.of(high), List.of()).areas(0, 4096), "below the first area");
    }

    @Test
    void ramHoldingAnswersOnlyForARangeInsideOneRegion() {
        GuestRam low = ram("low", 0, 8 * M), low2 = ram("low2", 8 * M, 4 * M), high = ram("high", 32 * M, 4 * M);
        GuestMemoryMap map = new GuestMemoryMap(List.of(high, low2, low), List.of(new MmioHole("dev", 12 * M, M)));
        assertEquals(low, map.ramHolding(0, 8 * M), "a whole region");
        assertEquals(low2, map.ramHolding(8 * M, 8 * M + 4096), "the first page of a region that touches the one before");
        assertEquals(low, map.ramHolding(8 * M - 4096, 8 * M), "the last page of a region that touches the one after");
        assertEquals(high, map.ramHolding(35 * M, 36 * M));
        assertEquals(null, map.ramHolding(8 * M - 4096, 8 * M + 4096), "two regions");
        assertEquals(null, map.ramHolding(12 * M, 12 * M + 4096), "MMIO");
        assertEquals(null, map.ramHolding(11 * M, 13 * M), "RAM and MMIO");
        assertEquals(null, map.ramHolding(20 * M, 20 * M + 4096), "unassigned");
        assertEquals(null, map.ramHolding(35 * M, 37 * M), "beyond the end of the last region");
        assertEquals(null, map.ramHolding(40 * M, 40 * M + 4096), "beyond every area");
        // Every page-aligned range of up to 3 pages around each boundary agrees with areas().
        long[] edges = {0, 8 * M, 12 * M, 13 * M, 32 * M, 36 * M};
        for (long edge : edges) {
            for (long start = Math.max(0, edge - 2 * 4096); start <= edge + 2 * 4096; start += 4096) {
                for (long end = start + 4096; end <= start + 3 * 4096; end += 4096) {
                    List<GuestMemoryMap.Area> areas = map.areas(start, end);
                    GuestRam expected = areas.size() == 1 && areas.get(0) instanceof GuestMemoryMap.Ram r ? r.ram() : null;
                    assertEquals(expected, map.ramHolding(start, end), "[0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")");
                }
            }
        }
    }

    @Test
    void areasThatTouchAreFine() {
        GuestRam low = ram("low", 0, 8 * M);
        new GuestMemoryMap(List.of(low), List.of(new MmioHole("a", 8 * M, M), new MmioHole("b", 9 * M, M)));
    }

    private void assertOverlapNamesBoth(List<GuestRam> rams, List<MmioHole> holes, String first, String second) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GuestMemoryMap(rams, holes));
        assertTrue(e.getMessage().contains(first) && e.getMessage().contains(second) && e.getMessage().contains("overlaps"),
                e.getMessage());
    }

    @Test
    void overlapsAreRefusedNamingBothAreas() {
        GuestRam low = ram("low", 0, 8 * M);
        GuestRam other = ram("other", 4 * M, 8 * M);
        assertOverlapNamesBoth(List.of(low, other), List.of(), "RAM region low [0x0, 0x800000)", "RAM region other [0x400000, 0xc00000)");
        assertOverlapNamesBoth(List.of(low), List.of(new MmioHole("vga", 7 * M, 2 * M)), "MMIO hole vga", "RAM region low");
        // a hole inside RAM, and a hole around RAM (seen from the other side of the lookup)
        assertOverlapNamesBoth(List.of(low), List.of(new MmioHole("in", M, M)), "MMIO hole in", "RAM region low");
        GuestRam small = ram("small", 20 * M, M);
        assertOverlapNamesBoth(List.of(small), List.of(new MmioHole("around", 19 * M, 4 * M)), "MMIO hole around", "RAM region small");
        assertOverlapNamesBoth(List.of(), List.of(new MmioHole("a", 0, 2 * M), new MmioHole("b", M, 2 * M)), "MMIO hole a", "MMIO hole b");
        assertOverlapNamesBoth(List.of(), List.of(new MmioHole("a", 0, 2 * M), new MmioHole("b", 0, M)), "MMIO hole a", "MMIO hole b");
    }
}
