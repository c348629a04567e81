package org.janus.platform.tdx.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.janus.guests.internal.ConversionStormFactory;
import org.janus.guests.internal.HelloFactory;
import org.janus.kvm.api.Errno;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.MachineException;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Whole TDs through the machine, as {@code janus run} makes them: the machine's manager outside a framework with this
 * platform, both memory backends and the conversion-storm guest, on the software KVM with its TDX module, launching
 * Debian's TDVF in place ({@code inplace}: source_addr 0) and legacy ({@code 7.3}: from a staging buffer).
 */
class TdxMachineTest {
    static final Duration WAIT = Duration.ofSeconds(120);

    static String spec(String profile, Path firmware, String program, String options) {
        return """
                { "name": "tdx-%s",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "intel-tdx" },
                  "platform": { "id": "tdx", "attributes": "0x10000000" },
                  "memory": { "ram": [ { "name": "ram-low", "gpa": 0, "size": "64M" },
                                       { "name": "bios", "gpa": "0xffc00000", "size": "4M" },
                                       { "name": "ram-high", "gpa": "4G", "size": "2G" } ],
                              "mmio": [ { "name": "ioapic", "gpa": "0xfec00000", "size": "4K" } ] },
                  "vcpus": { "count": 2 },
                  "images": { "firmware": "%s" },
                  "guest": { "program": "%s", "options": { %s } } }
                """.formatted(profile, profile, firmware, program, options);
    }

    static VmManagerImpl manager(SimKvm kvm) {
        ServiceDirectory s = new ServiceDirectory().addKvm(kvm).addPlatform(new TdxPlatform())
                .addBackend(new GuestMemfdBackend()).addBackend(new LegacyBackend(true))
                .addGuest(ConversionStormFactory.NAME, new ConversionStormFactory())
                .addGuest(HelloFactory.NAME, new HelloFactory());
        return new VmManagerImpl(s);
    }

    @ParameterizedTest(name = "profile {0}")
    @ValueSource(strings = {"inplace", "7.3"})
    void aConversionStormRunsOnALaunchedTdWhoseMrtdIsTheExpectedOne(String profile) throws Exception {
        Path firmware = RealTdvf.require();
        boolean inPlace = profile.equals("inplace");
        VmManagerImpl m = manager(SimKvm.create(SimProfile.byId(profile), SimHardware.INTEL_TDX));
        String id = m.create(SpecReader.read(spec(profile, firmware, ConversionStormFactory.NAME,
                "\"seed\": 3, \"iterations\": 12, \"pagesPerRange\": 4, \"regions\": [\"ram-high\"]"), null));
        m.start(id);
        RunSummary s = m.awaitEnd(id, WAIT);
        String what = s.end() + "\n" + s.launch() + "\n" + s.console();
        assertTrue(s.endedNormally(), what);
        assertTrue(s.backend().startsWith(inPlace ? "guest-memfd" : "legacy"), s.backend());
        assertTrue(s.launch().contains(inPlace ? "in place, source_addr 0" : "legacy, from a staging buffer"), s.launch());
        assertEquals(RealTdvf.MRTD, s.expectedDigest(), "janus measure's MRTD");
        assertEquals(RealTdvf.MRTD, s.launchDigest(), "the TDX module's MRTD");
        assertEquals(Optional.of(true), s.digestMatches());
        // TDX never shows the host a page's plaintext across a conversion, in place or legacy: the storm checks only that.
        assertTrue(s.console().contains("contents lost (never the plaintext: encrypted memory) as expected"), what);
        assertEquals(0, s.conversions().stream().mapToLong(RunSummary.ConversionCount::refused).sum(), s.conversions().toString());
        long toShared = s.conversions().stream().filter(c -> c.source().equals("map-gpa-range") && c.direction().equals("to-shared"))
                .mapToLong(RunSummary.ConversionCount::done).sum();
        assertTrue(toShared >= 24, "every MapGPA reached the machine, in chunks of at most 2 MiB: " + s.conversions());
    }

    @Test
    void aFailedLaunchLeavesNothingBehind() throws Exception {
        Path firmware = RealTdvf.require();
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.INTEL_TDX);
        VmManagerImpl m = manager(kvm);
        String spec = spec("inplace", firmware, HelloFactory.NAME, "");
        // The 900th page of the launch fails: in the middle of the BFV, whose 892 pages come first... and the CFV.
        kvm.injectFault("KVM_TDX_INIT_MEM_REGION", Errno.EIO, 899);
        MachineException e = assertThrows(MachineException.class, () -> m.create(SpecReader.read(spec, null)));
        assertEquals(MachineException.Step.LAUNCH, e.step(), e.getMessage());
        assertTrue(e.getMessage().contains("KVM_TDX_INIT_MEM_REGION") && e.getMessage().contains("EIO"), e.getMessage());
        assertTrue(m.list().isEmpty(), "no VM remains: " + m.list());
        assertEquals(0, e.getSuppressed().length, "everything made was released");
        // The same spec on the same host launches afterwards: nothing of the failed VM stands in its way.
        String id = m.create(SpecReader.read(spec, null));
        m.start(id);
        RunSummary s = m.awaitEnd(id, WAIT);
        assertTrue(s.endedNormally(), s.end() + "\n" + s.console());
        assertEquals(RealTdvf.MRTD, s.launchDigest());
    }

    @Test
    void specProblemsAreNamedWithTheirJsonPaths() throws Exception {
        Path firmware = RealTdvf.require();
        VmManagerImpl m = manager(SimKvm.create(SimProfile.INPLACE, SimHardware.INTEL_TDX));
        String bad = spec("inplace", firmware, HelloFactory.NAME, "").replace("\"attributes\": \"0x10000000\"",
                "\"attributes\": \"0x4\", \"gpaw\": 50, \"xfam\": \"0x4\", \"mrOwner\": \"12\", \"policy\": 1");
        SpecException e = assertThrows(SpecException.class, () -> m.create(SpecReader.read(bad, null)));
        String msg = e.getMessage();
        for (String path : new String[] {"$.platform.attributes", "$.platform.gpaw", "$.platform.xfam", "$.platform.mrOwner", "$.platform.policy"})
            assertTrue(msg.contains(path), path + " in " + msg);
        assertTrue(m.list().isEmpty());
        Path notTdvf = Path.of("/dev/null");
        String wrongFirmware = spec("inplace", notTdvf, HelloFactory.NAME, "");
        SpecException f = assertThrows(SpecException.class, () -> m.create(SpecReader.read(wrongFirmware, null)));
        assertTrue(f.getMessage().contains("$.images.firmware"), f.getMessage());
        assertFalse(f.getMessage().contains("\n  at "), "one line per problem, no stack trace");
    }

    @Test
    void sixTwelveCannotRunATd() throws Exception {
        Path firmware = RealTdvf.require();
        VmManagerImpl m = manager(SimKvm.create(SimProfile.K6_12, SimHardware.INTEL_TDX));
        Exception e = assertThrows(Exception.class, () -> m.create(SpecReader.read(spec("6.12", firmware, HelloFactory.NAME, ""), null)));
        assertTrue(e.getMessage().contains("KVM_X86_TDX_VM"), e.getMessage());
    }
}
