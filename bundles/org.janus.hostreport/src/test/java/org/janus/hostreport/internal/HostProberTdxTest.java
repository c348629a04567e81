package org.janus.hostreport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.janus.hostreport.HostReport;
import org.janus.hostreport.MemoryStrategy;
import org.janus.hostreport.Platforms;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;

/** TDX in the host report: KVM offers TDX VMs from Linux 6.16, so a 6.12 kernel on TDX hardware cannot run them. */
class HostProberTdxTest {

    private static HostReport probe(SimProfile profile) {
        return new HostProber().probe(SimKvm.create(profile, SimHardware.INTEL_TDX));
    }

    @Test
    void linux612OnTdxHardwareHasNoTdxVms() {
        HostReport old = probe(SimProfile.K6_12);
        assertEquals(0x3, old.vmTypesMask());
        assertEquals(MemoryStrategy.UNAVAILABLE, old.platform(Platforms.TDX).orElseThrow().strategy());
        assertEquals("KVM_CAP_VM_TYPES=0x3 lacks type 5", old.platform(Platforms.TDX).orElseThrow().reason());
        assertEquals(MemoryStrategy.LEGACY, old.platform(Platforms.SW_PROTECTED).orElseThrow().strategy(),
                "the software-protected VM is there all the same");
        assertEquals(MemoryStrategy.LEGACY, probe(SimProfile.K7_3).platform(Platforms.TDX).orElseThrow().strategy());
        assertEquals(MemoryStrategy.IN_PLACE, probe(SimProfile.INPLACE).platform(Platforms.TDX).orElseThrow().strategy());
    }
}
