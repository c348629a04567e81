package org.janus.platform.pkvm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.janus.guests.internal.FramebufferFactory;
import org.janus.guests.internal.HelloFactory;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.junit.jupiter.api.Test;

/**
 * Whole pKVM VMs through the machine, outside a framework: the manager with the pkvm and none platforms, both memory
 * backends and the guest programs, on the software KVM's arm64-pkvm hardware. The guests check their own data, so a
 * share or unshare that lost contents fails the VM.
 */
class PkvmMachineTest {
    static final Duration WAIT = Duration.ofSeconds(120);
    /** What the framebuffer of the tests converts: 1 MiB, 256 granules of 4 KiB, 4 frames. */
    static final long GRANULES = (1L << 20) / 4096;

    /** A guest that asks for what no host should grant, and checks that each answer is INVALID_PARAMETER. */
    static final class HostileGuest implements GuestProgramFactory {
        final List<Long> answers = new ArrayList<>();

        @Override public List<SpecProblem> validate(GuestProgramContext context) { return List.of(); }

        @Override public GuestProgram create(GuestProgramContext context) {
            long ram = context.ram().get(0).gpa();
            return cpu -> {
                answers.add(cpu.smccc(ArmSmccc.KVM_MEM_SHARE, ram, 1, 0));               // a reserved word
                answers.add(cpu.smccc(ArmSmccc.KVM_MEM_SHARE, ram + 12, 0, 0));          // not aligned
                answers.add(cpu.smccc(ArmSmccc.KVM_MEM_SHARE, 0x0900_0000L, 0, 0));      // the UART, not memory
                answers.add(cpu.smccc(ArmSmccc.KVM_MEM_UNSHARE, ram, 0, 0));             // never shared
                answers.add(cpu.smccc(ArmSmccc.KVM_MEM_SHARE, ram, 0, 0));               // fine
                answers.add(cpu.smccc(ArmSmccc.KVM_MEM_SHARE, ram, 0, 0));               // shared already
                cpu.smccc(ArmSmccc.PSCI_SYSTEM_OFF);
            };
        }
    }

    static VmManagerImpl manager(Map<String, GuestProgramFactory> extraGuests) {
        ServiceDirectory s = new ServiceDirectory()
                .addKvm(SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64_PKVM))
                .addPlatform(new PkvmPlatform()).addPlatform(new NonePlatform())
                .addBackend(new GuestMemfdBackend()).addBackend(new LegacyBackend(true))
                .addGuest(FramebufferFactory.NAME, new FramebufferFactory())
                .addGuest(HelloFactory.NAME, new HelloFactory());
        extraGuests.forEach(s::addGuest);
        return new VmManagerImpl(s);
    }

    static String spec(String profile, String platform, String backend, String ram, int vcpus, String program, String options) {
        return """
                { "name": "%s-%s",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "arm64-pkvm" },
                  "platform": { "id": "%s" },
                  "memory": { "backend": "%s", "ram": [ %s ], "mmio": [ { "name": "uart", "gpa": "0x9000000", "size": "4K" } ] },
                  "vcpus": { "count": %d },
                  "guest": { "program": "%s", "options": { %s } } }
                """.formatted(program, platform, profile, platform, backend, ram, vcpus, program, options);
    }

    static final String RAM_1G = "{ \"name\": \"ram\", \"gpa\": \"1G\", \"size\": \"64M\" }";

    static RunSummary run(VmManagerImpl m, String spec) throws Exception {
        String id = m.create(SpecReader.read(spec, null));
        m.start(id);
        return m.awaitEnd(id, WAIT);
    }

    static Map<String, RunSummary.ConversionCount> conversions(RunSummary s) {
        return s.conversions().stream().collect(Collectors.toMap(c -> c.source() + "/" + c.direction(), c -> c));
    }

    @Test
    void theFramebufferSharesAndUnsharesInPlaceAndKeepsEveryPicture() throws Exception {
        RunSummary s = run(manager(Map.of()), spec("inplace", "pkvm", "auto", RAM_1G, 2, "framebuffer",
                "\"size\": \"1M\", \"frames\": 4, \"seed\": 3"));
        String what = s.end() + "\n" + s.console() + s.conversions();
        assertTrue(s.endedNormally(), what);
        assertTrue(s.console().contains("contents should be preserved in place"), what);
        assertTrue(s.console().contains("framebuffer: 4 frames, 8 conversions: contents preserved across every share and unshare"), what);
        assertTrue(s.backend().startsWith("guest-memfd"), s.backend());
        Map<String, RunSummary.ConversionCount> c = conversions(s);
        // Every frame shares all 256 granules; frames 1..3 take them back first (frame 0 starts private).
        assertEquals(4 * GRANULES, c.get("platform/to-shared").done(), what);
        assertEquals(3 * GRANULES, c.get("platform/to-private").done(), what);
        assertEquals(0, c.values().stream().mapToLong(RunSummary.ConversionCount::refused).sum(), what);
        assertEquals(7 * GRANULES, s.vcpus().get(0).exits().get("hypercall"), what);
    }

    @Test
    void helloRunsOnArm64PrintingThroughTheUartAndEndingWithPsci() throws Exception {
        for (String platform : List.of("pkvm", "none")) {
            RunSummary s = run(manager(Map.of()), spec("inplace", platform, "auto", RAM_1G, 3, "hello", ""));
            String what = platform + ": " + s.end() + "\n" + s.console();
            assertTrue(s.endedNormally(), what);
            for (int v = 0; v < 3; v++) assertTrue(s.console().contains("hello from vcpu " + v), what);
            assertTrue(s.end().toString().contains("shut down"), what);
            long uartWrites = s.vcpus().stream().mapToLong(v -> v.exits().getOrDefault("mmio-write", 0L)).sum();
            assertEquals(3L * "hello from vcpu 0\n".length(), uartWrites, what);
        }
    }

    @Test
    void theIpaSizeFollowsTheMemoryMap() throws Exception {
        // RAM at 2 TiB needs a 42-bit IPA space: with KVM's default of 40 bits its memslot would be refused (EFAULT).
        RunSummary s = run(manager(Map.of()), spec("inplace", "pkvm", "auto",
                "{ \"name\": \"high\", \"gpa\": \"2T\", \"size\": \"64M\" }", 1, "framebuffer", "\"size\": \"64K\", \"frames\": 2"));
        assertTrue(s.endedNormally(), s.end() + "\n" + s.console());
        SpecException e = assertThrows(SpecException.class, () -> run(manager(Map.of()), spec("inplace", "pkvm", "auto",
                "{ \"name\": \"far\", \"gpa\": \"0x1000000000000\", \"size\": \"64M\" }", 1, "framebuffer", "")));
        assertTrue(e.problems().stream().anyMatch(p -> p.path().equals("$.memory")
                && p.message().contains("needs a 49-bit IPA space; this host allows at most 48 bits")), e.problems().toString());
    }

    @Test
    void aHostileGuestGetsThePlatformsAnswersAndTheVmGoesOn() throws Exception {
        HostileGuest hostile = new HostileGuest();
        RunSummary s = run(manager(Map.of("hostile", hostile)), spec("inplace", "pkvm", "auto", RAM_1G, 1, "hostile", ""));
        assertTrue(s.endedNormally(), s.end().toString());
        long inv = ArmSmccc.RET_INVALID_PARAMETER;
        assertEquals(List.of(inv, inv, inv, inv, ArmSmccc.RET_SUCCESS, inv), hostile.answers);
        assertEquals(1, conversions(s).get("platform/to-shared").done(), s.conversions().toString());
        assertEquals(1, conversions(s).size(), "only the good request reached the machine: " + s.conversions());
    }

    @Test
    void theRamOfAProtectedVmThatRanIsReleasedThoughItsMemslotStays() throws Exception {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64_PKVM);
        try (KvmVm vm = kvm.createVm(VmType.ARM_PROTECTED | 32)) {
            GuestRam ram = new GuestMemfdBackend().create(kvm, vm, new RamRegion("ram", 0, 1L << 30, 1L << 20), PageState.PRIVATE);
            try (KvmVcpu vcpu = vm.createVcpu(0)) {
                vcpu.setImmediateExit(true);
                vcpu.run();
            }
            KvmException frozen = assertThrows(KvmException.class, () -> vm.setUserMemoryRegion2(
                    UserMemoryRegion2.plain(0, 0, 0, 0)), "pKVM keeps the slot");
            assertEquals(Errno.EPERM, frozen.errno());
            ram.close();   // the file and the mapping go; the slot goes with the VM
        }
    }

    @Test
    void specsThePlatformCannotRunSayWhy() {
        VmManagerImpl m = manager(Map.of());
        SpecException legacy = assertThrows(SpecException.class, () -> run(m, spec("inplace", "pkvm", "legacy", RAM_1G, 1,
                "framebuffer", "")));
        assertTrue(legacy.problems().stream().anyMatch(p -> p.path().equals("$.memory.backend")), legacy.problems().toString());
        SpecException older = assertThrows(SpecException.class, () -> run(m, spec("7.3", "pkvm", "auto", RAM_1G, 1, "framebuffer", "")));
        assertTrue(older.problems().stream().anyMatch(p -> p.path().equals("$.platform.id")
                && p.message().contains("not backed by guest_memfd with private attributes")), older.problems().toString());
        SpecException options = assertThrows(SpecException.class, () -> run(m, spec("inplace", "pkvm", "auto", RAM_1G, 1,
                "framebuffer", "").replace("\"id\": \"pkvm\"", "\"id\": \"pkvm\", \"policy\": 1")));
        assertTrue(options.problems().stream().anyMatch(p -> p.path().equals("$.platform.policy")), options.problems().toString());
    }
}
