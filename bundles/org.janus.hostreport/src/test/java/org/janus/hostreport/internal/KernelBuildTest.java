package org.janus.hostreport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.janus.hostreport.HostReport;
import org.janus.hostreport.VmTypeReport;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;

/** The report's sentence on the kernel's build and mode: the in-place series, its parameter, and what the probes found. */
class KernelBuildTest {
    private static String kernelBuild(SimProfile profile, SimHardware hardware) {
        return new HostProber().probe(SimKvm.create(profile, hardware)).kernelBuild();
    }

    @Test
    void theThreeBuildsOf74() {
        assertEquals("in-place conversion series as applied (7.4), module parameter gmem_in_place_conversion=N: legacy mode "
                + "(VM-wide attributes)", kernelBuild(SimProfile.K7_4, SimHardware.AMD_SNP));
        assertEquals("in-place conversion series as applied (7.4), module parameter gmem_in_place_conversion=Y: in-place "
                + "mode (attributes in each guest_memfd)", kernelBuild(SimProfile.K7_4_INPLACE, SimHardware.INTEL_TDX));
        assertEquals("in-place conversion series as applied (7.4), built without CONFIG_KVM_VM_MEMORY_ATTRIBUTES (no module "
                + "parameter gmem_in_place_conversion): in-place mode only, no VM-wide KVM_SET_MEMORY_ATTRIBUTES",
                kernelBuild(SimProfile.K7_4_NOVMATTR, SimHardware.X86));
    }

    @Test
    void otherKernels() {
        assertEquals("in-place conversion series as posted, before it was applied (kernel 7.3.0-gmem-inplace-v8-janus-sim), "
                + "module parameter gmem_in_place_conversion=Y: in-place mode (attributes in each guest_memfd)",
                kernelBuild(SimProfile.INPLACE, SimHardware.AMD_SNP));
        assertEquals("no in-place conversion series (no per-guest_memfd attributes, no module parameter "
                + "gmem_in_place_conversion): legacy mode (VM-wide attributes)", kernelBuild(SimProfile.K7_3, SimHardware.AMD_SNP));
        // arm64 has no private memory in 7.4: no parameter, no in-place mode, nothing that takes PRIVATE.
        assertEquals("no private memory attributes: no VM type reports PRIVATE in KVM_CAP_MEMORY_ATTRIBUTES or "
                + "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES", kernelBuild(SimProfile.K7_4_INPLACE, SimHardware.ARM64_PKVM));
    }

    @Test
    void aParameterThatTheProbesContradictIsReported() {
        VmTypeReport legacySnp = new VmTypeReport(VmType.X86_SNP, "sev-snp", null, 1, GuestMemfdFlags.MMAP,
                MemoryAttribute.PRIVATE, 0, 0);
        String s = HostProber.kernelBuild(List.of(legacySnp), Map.of("kernel.release", "7.5.1",
                HostProber.MODE_PARAMETER, "Y"));
        assertEquals("in-place conversion series as applied (7.5), module parameter gmem_in_place_conversion=Y: in-place "
                + "mode (attributes in each guest_memfd); the probes found legacy mode", s);
    }

    @Test
    void textShowsTheKernelBuildLine() {
        HostReport report = new HostProber().probe(SimKvm.create(SimProfile.K7_4, SimHardware.AMD_SNP));
        String text = new TextRenderer().render(report);
        assertTrue(text.contains("\nkernel build   in-place conversion series as applied (7.4), module parameter "
                + "gmem_in_place_conversion=N: legacy mode (VM-wide attributes)\n"), text);
        assertTrue(text.contains("\nhost           kvm.parameter.gmem_in_place_conversion=N\n"), text);
        assertEquals(report, new JsonCodec().fromJson(new JsonCodec().toJson(report)));
    }
}
