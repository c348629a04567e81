package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.MachineException;
import org.janus.machine.MachineException.Step;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.janus.platform.snp.internal.SevSnpPlatform;
import org.janus.platform.snp.measure.CpuSignature;
import org.janus.platform.snp.measure.ExpectedMeasurement;
import org.janus.platform.snp.measure.MeasurementOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SEV-SNP VMs through the machine on the software KVM with its SEV firmware model, booting Debian's OVMF: the
 * launch in place and legacy with the firmware's digest next to the one computed ahead, launch errors (a policy
 * the spec gets wrong, a LAUNCH_UPDATE the firmware fails) and a VM failing between KVM_SEV_INIT2 and its launch,
 * each torn down completely (no thread, descriptor, mapping or open /dev/sev left), and {@code janus measure}.
 */
class SnpMachineTest {
    static final String OVMF = "/usr/share/ovmf/OVMF.fd";
    static final Duration WAIT = Duration.ofSeconds(60);
    static final String RAM = "{ \"name\": \"ram-low\", \"gpa\": 0, \"size\": \"64M\" },"
            + " { \"name\": \"bios\", \"gpa\": \"0xffe00000\", \"size\": \"2M\" }";
    static final String MMIO = "{ \"name\": \"ioapic\", \"gpa\": \"0xfec00000\", \"size\": \"4K\" }";

    /**
     * SEV-SNP wrapped, to see the per-VM state the real platform leaves in its context after initVm: the live map
     * ({@code state}) and what it held then ({@code snapshot}).
     */
    record Observed(SevSnpPlatform real, AtomicReference<Map<String, Object>> state, AtomicReference<Map<String, Object>> snapshot)
            implements ConfidentialPlatform {
        Observed() { this(new SevSnpPlatform(), new AtomicReference<>(), new AtomicReference<>()); }

        @Override public String id() { return real.id(); }
        @Override public long vmType(Kvm kvm) { return real.vmType(kvm); }
        @Override public Support support(Kvm kvm) { return real.support(kvm); }
        @Override public PageState initialRamState() { return real.initialRamState(); }
        @Override public List<Problem> validate(PlatformSpec spec) { return real.validate(spec); }
        @Override public void initVm(VmContext c) {
            real.initVm(c);
            state.set(c.platformState());
            snapshot.set(Map.copyOf(c.platformState()));
        }
        @Override public void initVcpu(VmContext c, KvmVcpu v) { real.initVcpu(c, v); }
        @Override public LaunchResult launch(VmContext c) { return real.launch(c); }
        @Override public ExitAction onExit(VmContext c, KvmVcpu v, VcpuExit e) { return real.onExit(c, v, e); }
        @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) { return real.expectedMeasurement(spec); }
    }

    /** Skips without Debian's OVMF, except in CI (where .ci/run installs it), where it fails. */
    static void requireOvmf() {
        if (Files.isReadable(Path.of(OVMF))) return;
        String reason = OVMF + " is not installed; Debian's ovmf package provides it (apt-get install -y ovmf)";
        if (System.getenv("CI") != null || Boolean.getBoolean("janus.ovmf.required")) fail(reason + " (required in CI)");
        assumeTrue(false, reason);
    }

    static SimKvm sim(String profile) { return SimKvm.create(SimProfile.byId(profile), SimHardware.AMD_SNP); }

    static ServiceDirectory services(SimKvm kvm) {
        return Machines.services(kvm).addPlatform(new SevSnpPlatform())
                .addGuest("private-hello", new Machines.TestGuest(c -> cpu -> {
                    // A private word per vCPU in low RAM (plain SNP accesses are private), in a page the vCPU validates
                    // first (PVALIDATE: the launch left it out), read back, then halt.
                    long at = (32L << 20) + 4096L * cpu.vcpuId();
                    if (cpu.pvalidate(at, 4096, true) != 0) throw new IllegalStateException("PVALIDATE failed");
                    cpu.writeLong(at, 0x5eed0000L + cpu.vcpuId());
                    if (cpu.readLong(at) != 0x5eed0000L + cpu.vcpuId()) throw new IllegalStateException("private word lost");
                    cpu.hlt();
                }));
    }

    static String spec(String profile, int vcpus, String platformOptions) {
        return """
                { "name": "test",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "amd-snp" },
                  "platform": { "id": "sev-snp"%s },
                  "memory": { "ram": [ %s ], "mmio": [ %s ] },
                  "vcpus": { "count": %d, "model": "EPYC-v4" },
                  "images": { "firmware": "%s" },
                  "guest": { "program": "private-hello" } }
                """.formatted(profile, platformOptions, RAM, MMIO, vcpus, OVMF);
    }

    static String expectedHex(int vcpus) throws Exception {
        return HexFormat.of().formatHex(ExpectedMeasurement.compute(Path.of(OVMF), vcpus, CpuSignature.ofQemuModel("EPYC-v4"),
                new MeasurementOptions(MeasurementOptions.SNP_ACTIVE)).bytes());
    }

    @BeforeAll
    static void warmUp() throws Exception {
        requireOvmf();
        // Class loading and JNA open files once; the first VM of the JVM is the baseline's cost, not a leak.
        VmManagerImpl m = new VmManagerImpl(services(sim("inplace")));
        String id = m.create(SpecReader.read(spec("inplace", 1, ""), null));
        m.start(id);
        m.awaitEnd(id, WAIT);
    }

    @ParameterizedTest(name = "profile {0}")
    @ValueSource(strings = {"inplace", "7.3", "6.12", "inplace-off"})
    void anSnpVmRunsAndTheFirmwaresDigestIsTheOneComputedAhead(String profile) throws Exception {
        Map<String, String> fds = Machines.openFds();
        long maps = Machines.memfdMappings();
        Set<Thread> threads = Machines.janusThreads();
        VmManagerImpl m = new VmManagerImpl(services(sim(profile)));
        String id = m.create(SpecReader.read(spec(profile, 2, ""), null));
        m.start(id);
        RunSummary s = m.awaitEnd(id, WAIT);
        assertTrue(s.endedNormally(), s.end().toString());
        assertEquals(profile.equals("inplace") ? "guest-memfd" : "legacy", s.backend().substring(0, s.backend().indexOf(' ')));
        String expected = expectedHex(2);
        assertEquals(expected, s.expectedDigest(), "computed ahead");
        assertEquals(expected, s.launchDigest(), "the firmware model's digest");
        assertEquals(Optional.of(true), s.digestMatches());
        String text = SummaryText.render(s);
        assertTrue(text.contains("  digest    " + expected + " (launch digest, computed by the firmware)\n  expected  " + expected
                + " (computed ahead from the spec)\n  measured  equal"), text);
        assertTrue(s.launch().contains(profile.equals("inplace") ? "in place, uaddr 0" : "legacy, from a staging buffer"), s.launch());
        // The launch converts through the engine like any request: the firmware's pages made private.
        assertTrue(s.conversions().stream().anyMatch(c -> c.source().equals("platform") && c.direction().equals("to-private")
                && c.done() > 0), s.conversions().toString());
        Machines.awaitNoNewJanusThreads(threads);
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "memfd mappings");
    }

    @Test
    void aPolicyKvmRefusesIsAProblemAtItsPathAndNothingIsCreated() throws Exception {
        Map<String, String> fds = Machines.openFds();
        VmManagerImpl m = new VmManagerImpl(services(sim("inplace")));
        SpecException e = assertThrows(SpecException.class,
                () -> m.create(SpecReader.read(spec("inplace", 1, ", \"policy\": \"0x410000\""), null)));
        assertEquals(List.of("$.platform.policy", "$.platform.policy"), e.problems().stream().map(SpecProblem::path).toList(), e.getMessage());
        assertTrue(e.getMessage().contains("0x410000 sets bits 0x400000 that KVM refuses")
                && e.getMessage().contains("0x410000 clears bit 17"), e.getMessage());
        assertEquals(List.of(), m.list());
        Machines.assertNoNewFds(fds);
    }

    @ParameterizedTest(name = "profile {0}, LAUNCH_UPDATE call {1} fails with errno {2}")
    @CsvSource({"inplace, 0, 5", "inplace, 9, 12", "7.3, 0, 5", "7.3, 9, 14", "6.12, 20, 5"})
    void aLaunchUpdateTheFirmwareFailsFailsTheVmAndLeavesNothingBehind(String profile, int after, int errno) throws Exception {
        SimKvm kvm = sim(profile);
        Observed platform = new Observed();
        VmManagerImpl m = new VmManagerImpl(services(kvm).addPlatform(ConfidentialPlatform.SEV_SNP, platform, 10));
        Map<String, String> fds = Machines.openFds();
        long maps = Machines.memfdMappings();
        Set<Thread> threads = Machines.janusThreads();
        kvm.injectFault("KVM_SEV_SNP_LAUNCH_UPDATE", errno, after);

        MachineException e = assertThrows(MachineException.class, () -> m.create(SpecReader.read(spec(profile, 2, ""), null)));
        assertEquals(Step.LAUNCH, e.step(), e.getMessage());
        assertTrue(e.getMessage().startsWith("test: launching (platform launch) failed: sev-snp: SNP_LAUNCH_UPDATE: ")
                && e.getMessage().contains(Errno.name(errno)), e.getMessage());
        assertEquals(0, e.getSuppressed().length, "everything was released: " + List.of(e.getSuppressed()));
        assertEquals(List.of(), m.list());
        assertEquals(Map.of(), platform.state().get(), "no per-VM platform state is left");
        SevDevice sev = (SevDevice) platform.snapshot().get().values().stream().filter(v -> v instanceof SevDevice).findFirst().orElseThrow();
        assertEquals(Errno.ENOTTY, launchStartErrno(kvm, sev), "the launch closed its /dev/sev");
        Machines.awaitNoNewJanusThreads(threads);
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "memfd mappings (the legacy launch's staging buffer included)");

        // `janus run` says which step failed; the fault fired once, so the same host then runs the VM.
        Path specFile = Files.createTempFile("snp", ".json");
        try {
            Files.writeString(specFile, spec(profile, 2, ""));
            kvm.injectFault("KVM_SEV_SNP_LAUNCH_UPDATE", errno, after);
            IllegalStateException run = assertThrows(IllegalStateException.class, () -> new RunCommand(m).apply(List.of(specFile.toString())));
            assertTrue(run.getMessage().contains("launching (platform launch) failed"), run.getMessage());
            String summary = new RunCommand(m).apply(List.of(specFile.toString()));
            assertTrue(summary.contains("measured  equal") && summary.strip().endsWith("result: ok - every vCPU halted (2 of 2)"), summary);
        } finally {
            Files.delete(specFile);
        }
    }

    /** SNP_LAUNCH_START carrying {@code sev} on a fresh SNP VM: 0 when it is an open /dev/sev, ENOTTY once closed. */
    static int launchStartErrno(SimKvm kvm, SevDevice sev) {
        try (KvmVm vm = kvm.createVm(VmType.X86_SNP)) {
            vm.memoryEncryptOp(new SevCommand(SevCommand.INIT2, new byte[48], kvm.openSevDevice()));
            byte[] start = new byte[64];
            start[2] = 0x03;     // policy 0x30000: SMT allowed, bit 17 set
            vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START, start, sev));
            return 0;
        } catch (KvmException e) {
            return e.errno();
        }
    }

    @ParameterizedTest(name = "{0} fails at {1}")
    @CsvSource({"inplace, KVM_CREATE_GUEST_MEMFD, CREATE_RAM", "7.3, KVM_SET_MEMORY_ATTRIBUTES, CREATE_RAM",
                "inplace, KVM_CREATE_VCPU, CREATE_VCPU"})
    void aVmFailingBetweenInitAndLaunchClosesTheDevSevItsPlatformHeld(String profile, String operation, Step step) throws Exception {
        SimKvm kvm = sim(profile);
        Observed platform = new Observed();
        VmManagerImpl m = new VmManagerImpl(services(kvm).addPlatform(ConfidentialPlatform.SEV_SNP, platform, 10));
        Map<String, String> fds = Machines.openFds();
        long maps = Machines.memfdMappings();
        Set<Thread> threads = Machines.janusThreads();
        assertEquals(0, launchStartErrno(kvm, kvm.openSevDevice()), "the probe passes with an open /dev/sev");
        // Validation creates (and closes) a probe VM first, whose KVM_CREATE_VCPU is never called: count from there.
        kvm.injectFault(operation, Errno.ENOMEM, 0);

        MachineException e = assertThrows(MachineException.class, () -> m.create(SpecReader.read(spec(profile, 2, ""), null)));
        assertEquals(step, e.step(), e.getMessage());
        assertTrue(e.getMessage().contains(operation), e.getMessage());
        assertEquals(0, e.getSuppressed().length, List.of(e.getSuppressed()).toString());
        SevDevice sev = (SevDevice) platform.snapshot().get().get("sev-snp.sevDevice");
        assertNotNull(sev, "initVm left its /dev/sev in the VM's state for the launch: " + platform.snapshot().get());
        assertEquals(Map.of(), platform.state().get(), "the machine emptied the VM's platform state");
        assertEquals(Errno.ENOTTY, launchStartErrno(kvm, sev), "the machine closed the /dev/sev the platform held");
        Machines.awaitNoNewJanusThreads(threads);
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "memfd mappings");
    }
}
