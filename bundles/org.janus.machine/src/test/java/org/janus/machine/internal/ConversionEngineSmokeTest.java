package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConversionEngineSmokeTest {
    static final long M = 1 << 20;

    @ParameterizedTest
    @CsvSource({"inplace,guest-memfd", "7.3,legacy", "6.12,legacy", "inplace-off,legacy", "7.4,legacy", "7.4-inplace,guest-memfd",
                "7.4-novmattr,guest-memfd"})
    void convertsAcrossTwoRegionsAndSkipsTheHole(String profile, String backendId) {
        SimKvm kvm = SimKvm.create(SimProfile.byId(profile), SimHardware.AMD_SNP);
        MemoryBackend backend = backendId.equals("legacy") ? new LegacyBackend(true) : new GuestMemfdBackend();
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            assertTrue(backend.suitability(vm).usable(), backend.suitability(vm).reason());
            GuestRam low = backend.create(kvm, vm, new RamRegion("low", 0, 0, 4 * M), PageState.SHARED);
            GuestRam high = backend.create(kvm, vm, new RamRegion("high", 1, 8 * M, 4 * M), PageState.SHARED);
            ConversionEngine engine = new ConversionEngine(new GuestMemoryMap(List.of(low, high), List.of(new MmioHole("dev", 4 * M, M))));
            low.write(M, new byte[] {1, 2, 3});
            ConversionOutcome o = engine.convert(GpaRange.of(2 * M, 8 * M), PageState.PRIVATE);
            assertInstanceOf(ConversionOutcome.Refused.class, o, "the MMIO hole cannot become private");
            assertEquals(0, low.privateBytes());
            o = engine.convert(GpaRange.of(0, 4 * M), PageState.PRIVATE);
            assertInstanceOf(ConversionOutcome.Done.class, o);
            assertTrue(kvm.isPrivate(vm, M));
            assertThrows(MemoryException.class, () -> low.read(M, 3));
            o = engine.convert(GpaRange.of(0, 12 * M), PageState.SHARED);
            assertEquals(List.of(GpaRange.of(4 * M, M), GpaRange.of(5 * M, 3 * M)), ((ConversionOutcome.Done) o).skipped());
            byte[] back = low.read(M, 3);
            assertEquals(backend.id().equals("legacy") ? 0 : 1, back[0], "in place keeps contents, legacy reads zero");
            assertTrue(!kvm.isPrivate(vm, M));
            System.out.println(profile + " " + backendId + " " + low.figures());
            high.close();
            low.close();
        }
    }
}
