package org.janus.hostreport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.janus.hostreport.HostReport;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;

class RenderingTest {
    private final HostReport inPlace = new HostProber().probe(SimKvm.create(SimProfile.INPLACE, SimHardware.AMD_SNP));

    @Test
    void jsonRoundTripsAndNamesStrategiesByTheirIds() {
        JsonCodec codec = new JsonCodec();
        String json = codec.toJson(inPlace);
        assertEquals(inPlace, codec.fromJson(json));

        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        assertEquals("sim", o.get("provider").getAsString());
        assertEquals(0x1f, o.get("vmTypesMask").getAsInt());
        JsonObject snp = o.getAsJsonArray("platforms").get(0).getAsJsonObject();
        assertEquals("sev-snp", snp.get("platform").getAsString());
        assertEquals("guest-memfd", snp.get("strategy").getAsString());
        assertEquals(4, snp.get("vmType").getAsLong());
    }

    @Test
    void pkvmShowsItsShareExitsAndTheInPlaceStrategy() {
        String text = new TextRenderer().render(new HostProber().probe(SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64_PKVM)));
        assertTrue(text.matches("(?s).*\\n  arm64-protected\\(ipa=0\\) \\(0x80000000\\) +yes +0x3 MMAP\\|INIT_SHARED +0x0 +0x8 PRIVATE"
                + " +0x18 MEM_SHARE\\|MEM_UNSHARE\\n.*"), text);
        assertTrue(text.matches("(?s).*\\n  pkvm +0x80000000 +guest-memfd \\(in-place\\) .*"), text);
    }

    @Test
    void textShowsCapabilitiesWithBitNamesAndOneLinePerPlatform() {
        String text = new TextRenderer().render(inPlace);
        assertTrue(text.startsWith("KVM provider   sim\ndescription    software KVM (sim): kernel profile inplace, hardware amd-snp\n"), text);
        assertTrue(text.contains("API version    12\n"), text);
        assertTrue(text.contains("VM types       KVM_CAP_VM_TYPES=0x1f\n"), text);
        assertTrue(text.contains("host           sim.profile=inplace\n"), text);
        assertTrue(text.matches("(?s).*\\n  sev-snp \\(0x4\\) +yes +0x3 MMAP\\|INIT_SHARED +0x0 +0x8 PRIVATE +0x1000 MAP_GPA_RANGE\\n.*"), text);
        assertTrue(text.matches("(?s).*\\n  sev-snp +0x4 +guest-memfd \\(in-place\\) +KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x8 has PRIVATE.*"), text);
        assertTrue(text.matches("(?s).*\\n  tdx +0x5 +unavailable +KVM_CAP_VM_TYPES=0x1f lacks type 5\\n.*"), text);
        assertTrue(text.matches("(?s).*\\n  none +0x0 +guest-memfd \\(shared-only\\) .*"), text);
    }

    @Test
    void aVmTypeThatCouldNotBeCreatedShowsItsError() {
        HostReport arm = new HostProber().probe(SimKvm.create(SimProfile.K7_3, SimHardware.ARM64));
        String text = new TextRenderer().render(arm);
        assertTrue(text.contains("arm64-protected(ipa=0) (0x80000000)  not creatable: KVM_CREATE_VM failed: EINVAL"), text);
        assertTrue(text.contains(", arm64 IPA bits 48"), text);
    }
}
