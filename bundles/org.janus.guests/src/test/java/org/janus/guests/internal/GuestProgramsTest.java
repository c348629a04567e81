package org.janus.guests.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.machine.VmState;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Each guest program run as a whole VM on the software KVM, under every kernel profile and so under both memory
 * strategies: in place on {@code inplace} (guest-memfd backend), legacy on {@code 7.3}, {@code 6.12} and
 * {@code inplace-off}. The programs check their own data, so a wrong conversion fails the VM.
 */
class GuestProgramsTest {
    static final Duration WAIT = Duration.ofSeconds(60);
    static final String SMALL_RAM = "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"16M\" }";
    /** 2 GiB at 1 GiB: with two vCPUs each owns one 1 GiB-aligned GiB, so 1G conversions happen. */
    static final String STORM_RAM = "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"64M\" }, { \"name\": \"high\", \"gpa\": \"1G\", \"size\": \"2G\" }";

    /** A storm told the opposite of the truth about contents: its checks must catch the difference. */
    record Misinformed(GuestProgramFactory real) implements GuestProgramFactory {
        static GuestProgramContext flipped(GuestProgramContext c) {
            return new GuestProgramContext(c.platform(), c.options(), c.ram(), c.vcpuId(), c.vcpuCount(), c.access(), !c.preservesContents());
        }

        @Override public List<SpecProblem> validate(GuestProgramContext c) { return real.validate(flipped(c)); }

        @Override public GuestProgram create(GuestProgramContext c) { return real.create(flipped(c)); }
    }

    static VmManagerImpl manager() {
        return new VmManagerImpl(new ServiceDirectory()
                .addKvm(org.janus.kvm.sim.SimKvm.create(org.janus.kvm.sim.SimProfile.INPLACE, org.janus.kvm.sim.SimHardware.AMD_SNP))
                .addPlatform(new NonePlatform()).addPlatform(new SwProtectedPlatform())
                .addBackend(new GuestMemfdBackend()).addBackend(new LegacyBackend(true))
                .addGuest(HelloFactory.NAME, new HelloFactory())
                .addGuest(ConversionStormFactory.NAME, new ConversionStormFactory())
                .addGuest("misinformed-storm", new Misinformed(new ConversionStormFactory())));
    }

    static String spec(String profile, String platform, String ram, int vcpus, String program, String options) {
        return """
                { "name": "%s-on-%s",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "x86" },
                  "platform": { "id": "%s" },
                  "memory": { "ram": [ %s ], "mmio": [ { "name": "ioapic", "gpa": "0xfec00000", "size": "4K" } ] },
                  "vcpus": { "count": %d },
                  "guest": { "program": "%s", "options": { %s } } }
                """.formatted(program, profile, profile, platform, ram, vcpus, program, options);
    }

    static RunSummary run(VmManagerImpl m, String spec) throws Exception {
        String id = m.create(SpecReader.read(spec, null));
        m.start(id);
        return m.awaitEnd(id, WAIT);
    }

    /** profile, the backend auto chooses there for a VM with private memory. */
    static Stream<Arguments> profiles() {
        return Stream.of(Arguments.of("inplace", "guest-memfd"), Arguments.of("7.3", "legacy"),
                Arguments.of("6.12", "legacy"), Arguments.of("inplace-off", "legacy"));
    }

    @ParameterizedTest(name = "hello on {0}")
    @MethodSource("profiles")
    void helloOnEveryProfileAndPlatform(String profile, String backend) throws Exception {
        VmManagerImpl m = manager();
        for (String platform : List.of("none", "sw-protected")) {
            RunSummary s = run(m, spec(profile, platform, SMALL_RAM, 3, "hello", ""));
            assertTrue(s.endedNormally(), platform + ": " + s.end());
            assertEquals("hello from vcpu 0\nhello from vcpu 1\nhello from vcpu 2\n",
                    s.console().lines().sorted().map(l -> l + "\n").reduce("", String::concat), s.console());
            assertTrue(s.vcpus().stream().allMatch(v -> v.exits().get("io-out") == "hello from vcpu 0\n".length()
                    && v.exits().get("hlt") == 1), s.vcpus().toString());
            if (platform.equals("sw-protected")) assertTrue(s.backend().startsWith(backend), s.backend());
        }
    }

    @ParameterizedTest(name = "conversion-storm on {0}")
    @MethodSource("profiles")
    void conversionStormOnEveryProfile(String profile, String backend) throws Exception {
        RunSummary s = run(manager(), spec(profile, "sw-protected", STORM_RAM, 2, "conversion-storm",
                "\"seed\": 7, \"iterations\": 24, \"pagesPerRange\": 8"));
        assertTrue(s.endedNormally(), s.end().toString());
        assertTrue(s.backend().startsWith(backend), s.backend());
        String contents = backend.equals("guest-memfd") ? "preserved" : "zeroed";
        for (int vcpu = 0; vcpu < 2; vcpu++) {
            String line = "conversion-storm vcpu " + vcpu + ": 48 conversions";
            assertTrue(s.console().contains(line) && s.console().contains("contents " + contents + " as expected"), s.console());
        }
        Map<String, RunSummary.ConversionCount> byDirection = new java.util.HashMap<>();
        s.conversions().forEach(c -> byDirection.put(c.source() + "/" + c.direction(), c));
        assertEquals(48, byDirection.get("map-gpa-range/to-private").done(), s.conversions().toString());
        assertEquals(48, byDirection.get("map-gpa-range/to-shared").done(), s.conversions().toString());
        assertEquals(2, s.conversions().size(), "nothing refused, nothing malformed, no memory faults: " + s.conversions());
        // 2 GiB and more of RAM, but only the pages the guest wrote take host memory (at most 2 x 24 x 8 per side).
        assertEquals((64L << 20) + (2L << 30), s.memory().stream().mapToLong(r -> r.figures().size()).sum());
        long resident = s.memory().stream().mapToLong(r -> r.figures().resident()).sum();
        assertTrue(resident >= 0 && resident <= 2 * 2 * 24 * 8 * 4096L, "resident " + resident + " bytes: " + s.memory());
    }

    @Test
    void theStormNoticesContentsThatDoNotBehaveAsPromised() throws Exception {
        RunSummary legacy = run(manager(), spec("7.3", "sw-protected", SMALL_RAM, 1, "misinformed-storm", "\"iterations\": 4"));
        VmState.Failed f = assertInstanceOf(VmState.Failed.class, legacy.end());
        assertTrue(f.reason().contains("the guest program crashed: conversion-storm vcpu 0, iteration 0")
                && f.reason().contains("reads 0x0 after converting back to shared (in place: contents are preserved)"), f.reason());
        RunSummary inplace = run(manager(), spec("inplace", "sw-protected", SMALL_RAM, 1, "misinformed-storm", "\"iterations\": 4"));
        VmState.Failed g = assertInstanceOf(VmState.Failed.class, inplace.end());
        assertTrue(g.reason().contains(", expected 0x0") && g.reason().contains("legacy: the shared side was discarded"), g.reason());
    }

    @Test
    void stormOptionsAreCheckedBeforeTheVmIsBuilt() {
        SpecException none = assertThrows(SpecException.class,
                () -> run(manager(), spec("inplace", "none", SMALL_RAM, 1, "conversion-storm", "")));
        assertEquals("$.guest.options", none.problems().get(0).path());
        assertTrue(none.problems().get(0).message().contains("a none VM has no private memory"), none.getMessage());

        SpecException bad = assertThrows(SpecException.class, () -> run(manager(), spec("inplace", "sw-protected", SMALL_RAM, 2,
                "conversion-storm", "\"sizes\": [\"1G\"], \"iterations\": 0, \"colour\": 1, \"seed\": \"x\"")));
        assertEquals(List.of("$.guest.options.colour", "$.guest.options.iterations", "$.guest.options.seed", "$.guest.options.sizes"),
                bad.problems().stream().map(SpecProblem::path).sorted().toList(), bad.getMessage());
        SpecException hello = assertThrows(SpecException.class, () -> run(manager(), spec("inplace", "none", SMALL_RAM, 1, "hello", "\"loud\": true")));
        assertEquals("$.guest.options.loud", hello.problems().get(0).path());
    }
}
