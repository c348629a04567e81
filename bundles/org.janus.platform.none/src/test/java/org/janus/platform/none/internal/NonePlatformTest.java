package org.janus.platform.none.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.PlatformSpec;
import org.junit.jupiter.api.Test;

class NonePlatformTest {
    private final NonePlatform platform = new NonePlatform();

    @Test
    void everyHostRunsAPlainVmWithSharedRam() {
        for (SimHardware h : SimHardware.values()) {
            SimKvm kvm = SimKvm.create(SimProfile.K6_12, h);
            assertTrue(platform.support(kvm).supported(), h.id());
            assertEquals(VmType.DEFAULT, platform.vmType(kvm));
            // The type is really creatable there.
            kvm.createVm(platform.vmType(kvm)).close();
        }
        assertEquals(PageState.SHARED, platform.initialRamState());
        assertEquals(PageState.SHARED, platform.initialRamState(new PlatformSpec(Map.of(), 1, null, null, null, null, null)));
        assertTrue(platform.expectedMeasurement(new PlatformSpec(Map.of(), 1, null, null, null, null, null)).isEmpty());
    }

    @Test
    void optionsAndImagesAreRefusedByPath() {
        List<ConfidentialPlatform.Problem> p = platform.validate(new PlatformSpec(Map.of("policy", 1L), 1, null,
                Path.of("/x/OVMF.fd"), null, null, null));
        assertEquals(List.of("$.images.firmware", "$.platform.policy"), p.stream().map(ConfidentialPlatform.Problem::path).sorted().toList());
        assertEquals(List.of(), platform.validate(new PlatformSpec(Map.of(), 4, "EPYC-Milan", null, null, null, null)));
    }
}
