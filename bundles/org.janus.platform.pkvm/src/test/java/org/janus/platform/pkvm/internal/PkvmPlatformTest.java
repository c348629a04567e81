package org.janus.platform.pkvm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.ConfidentialPlatform.ExitAction;
import org.janus.platform.api.ConfidentialPlatform.Problem;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PkvmPlatformTest {
    private final PkvmPlatform platform = new PkvmPlatform();

    static PlatformSpec spec(Map<String, Object> options, long guestPhysicalEnd) {
        return new PlatformSpec(options, 1, null, null, null, null, null, guestPhysicalEnd);
    }

    private static List<String> paths(List<Problem> problems) { return problems.stream().map(Problem::path).sorted().toList(); }

    // ---- support ----

    @ParameterizedTest
    @EnumSource(SimProfile.class)
    void supportNamesWhatEachSimHostLacks(SimProfile profile) {
        for (SimHardware hardware : SimHardware.values()) {
            ConfidentialPlatform.Support s = platform.support(SimKvm.create(profile, hardware));
            String where = profile.id() + "/" + hardware.id() + ": " + s.reason();
            switch (hardware) {
                case X86, AMD_SNP, INTEL_TDX -> {
                    assertFalse(s.supported(), where);
                    assertEquals("not an arm64 host (KVM_CAP_ARM_VM_IPA_SIZE=0): pKVM is arm64's", s.reason());
                }
                case ARM64 -> {
                    assertFalse(s.supported(), where);
                    assertEquals("KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED) failed with EINVAL: pKVM is not enabled (boot the host"
                            + " with kvm-arm.mode=protected)", s.reason());
                }
                case ARM64_PKVM -> {
                    if (profile == SimProfile.INPLACE) {
                        assertTrue(s.supported(), where);
                        assertTrue(s.reason().contains("IPA up to 48 bits; KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x8,"
                                + " KVM_CAP_EXIT_HYPERCALL=0x18"), where);
                    } else {
                        assertFalse(s.supported(), where);
                        assertTrue(s.reason().startsWith("protected VMs here are not backed by guest_memfd with private attributes"
                                + " (KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x0, KVM_CAP_EXIT_HYPERCALL=0x0)"), where);
                    }
                }
            }
        }
    }

    // ---- the VM type and its IPA size ----

    @Test
    void theIpaSizeIsTheSmallestThatReachesTheEndOfTheMemoryMap() {
        Kvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64_PKVM);
        assertEquals(VmType.ARM_PROTECTED, platform.vmType(kvm), "without a memory map: KVM's default, 40 bits");
        assertEquals(VmType.ARM_PROTECTED, platform.vmType(kvm, spec(Map.of(), 0)));
        long[][] endAndBits = {
                {1, 32}, {64L << 20, 32}, {1L << 32, 32}, {(1L << 32) + 4096, 33}, {1L << 40, 40}, {(1L << 40) + 1, 41},
                {3L << 40, 42}, {1L << 48, 48}, {1L << 52, 52}};
        for (long[] eb : endAndBits) {
            assertEquals(VmType.ARM_PROTECTED | eb[1], platform.vmType(kvm, spec(Map.of(), eb[0])), "end 0x" + Long.toHexString(eb[0]));
            assertEquals(eb[1], IpaSize.reaching(eb[0]).bits());
            assertTrue(IpaSize.reaching(eb[0]).end() >= eb[0]);
        }
        assertThrows(IllegalArgumentException.class, () -> IpaSize.reaching((1L << 52) + 1));
        assertThrows(IllegalArgumentException.class, () -> IpaSize.reaching(-1));
        assertThrows(IllegalArgumentException.class, () -> new IpaSize(31));
        assertThrows(IllegalArgumentException.class, () -> new IpaSize(53));
    }

    @Test
    void theChosenTypeIsOneTheSimulatedKernelAcceptsAndItsMemslotsFit() throws Exception {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64_PKVM);
        long end = (1L << 40) + (2L << 20);
        try (KvmVm vm = kvm.createVm(platform.vmType(kvm, spec(Map.of(), end)));
             GuestMemfd g = vm.createGuestMemfd(2L << 20, GuestMemfdFlags.MMAP)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 1L << 40, 2L << 20, 0, g, 0));
        }
        try (KvmVm vm = kvm.createVm(platform.vmType(kvm)); GuestMemfd g = vm.createGuestMemfd(2L << 20, GuestMemfdFlags.MMAP)) {
            KvmException e = assertThrows(KvmException.class,
                    () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 1L << 40, 2L << 20, 0, g, 0)));
            assertEquals(14, e.errno(), "EFAULT: the default 40-bit space does not reach it");
        }
    }

    // ---- validation ----

    @Test
    void validationNamesEachProblemWithItsJsonPath() {
        assertEquals(List.of(), platform.validate(spec(Map.of(), 2L << 30)));
        List<Problem> p = platform.validate(new PlatformSpec(Map.of("policy", 1L, "ipa", 40L), 1, null, Path.of("OVMF.fd"),
                Path.of("Image"), null, "quiet", 1L << 53));
        assertEquals(List.of("$.images.cmdline", "$.images.firmware", "$.images.kernel", "$.memory", "$.platform.ipa",
                "$.platform.policy"), paths(p));
        assertTrue(p.stream().anyMatch(x -> x.message().contains("needs 53 address bits, more than arm64's 52")), p.toString());
    }

    @Test
    void aMemoryMapBeyondTheHostsIpaLimitIsASpecProblem() {
        Kvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64_PKVM);
        assertEquals(48, kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE));
        assertEquals(List.of(), platform.validate(spec(Map.of(), 1L << 48), kvm));
        List<Problem> p = platform.validate(spec(Map.of(), (1L << 48) + 4096), kvm);
        assertEquals(1, p.size(), p.toString());
        assertEquals("$.memory", p.get(0).path());
        assertEquals("the memory map ends at 0x1000000001000, which needs a 49-bit IPA space; this host allows at most 48 bits"
                + " (KVM_CAP_ARM_VM_IPA_SIZE)", p.get(0).message());
        assertEquals(List.of("$.platform.x"), paths(platform.validate(spec(Map.of("x", true), 1L << 30), kvm)),
                "the host-independent problems come along");
    }

    @Test
    void memoryStartsPrivateAndNothingIsMeasured() {
        assertEquals(PageState.PRIVATE, platform.initialRamState());
        assertEquals(PageState.PRIVATE, platform.initialRamState(spec(Map.of(), 0)));
        assertTrue(platform.expectedMeasurement(spec(Map.of(), 0)).isEmpty());
        assertEquals(ConfidentialPlatform.PKVM, platform.id());
    }

    // ---- initVm and exits, over a real protected VM ----

    /** A VM context over a protected VM with one guest_memfd region at {@link #RAM}; convert is the in-place conversion. */
    static final class Context implements VmContext, AutoCloseable {
        static final long RAM = 1L << 30;
        static final long SIZE = 4L << 12;
        final SimKvm kvm;
        final KvmVm vm;
        final GuestMemfd gmem;
        final HostMapping view;
        final List<String> log = new ArrayList<>();
        /** What convert does instead of converting: a refusal (no cause) or a failure that could not be undone. */
        PlatformException failure;
        final List<String> conversions = new ArrayList<>();

        Context(SimProfile profile) {
            kvm = SimKvm.create(profile, SimHardware.ARM64_PKVM);
            vm = kvm.createVm(VmType.ARM_PROTECTED | 32);
            gmem = vm.createGuestMemfd(SIZE, GuestMemfdFlags.MMAP);
            view = gmem.mmap(0, SIZE, true);
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, RAM, SIZE, view.address(), gmem, 0));
        }

        public String name() { return "pkvm-test"; }
        public Kvm kvm() { return kvm; }
        public KvmVm vm() { return vm; }
        public PlatformSpec spec() { return PkvmPlatformTest.spec(Map.of(), RAM + SIZE); }
        public List<KvmVcpu> vcpus() { return List.of(); }
        public boolean convertsInPlace() { return true; }
        public void writeGuest(long gpa, byte[] data) { view.write(gpa - RAM, data); }
        public byte[] readGuest(long gpa, int length) { return view.read(gpa - RAM, length); }

        public void convert(long gpa, long size, PageState target) {
            conversions.add(Long.toHexString(gpa) + "+" + Long.toHexString(size) + "->" + target);
            if (failure != null) throw failure;
            gmem.setMemoryAttributes2(MemoryAttributes2.of(gpa - RAM, size, target == PageState.PRIVATE ? MemoryAttribute.PRIVATE : 0));
        }

        public boolean isUniform(long gpa, long size, PageState state) { throw new UnsupportedOperationException(); }
        public Map<String, Object> platformState() { return Map.of(); }
        public void log(String message) { log.add(message); }

        @Override public void close() {
            view.close();
            gmem.close();
            vm.close();
        }
    }

    /** Runs {@code guest} on a vCPU of the context's VM, handing every exit to the platform until the guest ends. */
    private List<Long> runGuest(Context c, List<long[]> calls) throws Exception {
        List<Long> answers = new ArrayList<>();
        try (SimVcpu vcpu = (SimVcpu) c.vm.createVcpu(0)) {
            vcpu.load(g -> {
                for (long[] call : calls) answers.add(g.smccc((int) call[0], call[1], call[2], call[3]));
            });
            for (int i = 0; i < 100; i++) {
                VcpuExit exit = vcpu.run();
                if (exit instanceof VcpuExit.SystemEvent e) {
                    assertEquals(ExitReason.SYSTEM_EVENT_SHUTDOWN, e.type(), () -> "guest failed: " + vcpu.guestFailure());
                    return answers;
                }
                assertEquals(ExitAction.RESUME, platform.onExit(c, vcpu, exit), exit.toString());
            }
        }
        throw new AssertionError("the guest did not end");
    }

    @Test
    void sharesAndUnsharesBecomeConversionsOfOneGranuleAndTheGuestHearsSuccess() throws Exception {
        try (Context c = new Context(SimProfile.INPLACE)) {
            platform.initVm(c);
            long ipa = Context.RAM + 4096;
            List<Long> answers = runGuest(c, List.of(new long[] {ArmSmccc.KVM_MEM_SHARE, ipa, 0, 0},
                    new long[] {ArmSmccc.KVM_MEM_UNSHARE, ipa, 0, 0}));
            assertEquals(List.of(ArmSmccc.RET_SUCCESS, ArmSmccc.RET_SUCCESS), answers);
            assertEquals(List.of("40001000+1000->SHARED", "40001000+1000->PRIVATE"), c.conversions);
        }
    }

    @Test
    void aRefusedConversionIsInvalidParameterAndAnUndoableFailureStopsTheVm() throws Exception {
        try (Context c = new Context(SimProfile.INPLACE)) {
            platform.initVm(c);
            c.failure = new PlatformException("machine", "convert", "refused", null);
            List<Long> answers = runGuest(c, List.<long[]>of(new long[] {ArmSmccc.KVM_MEM_SHARE, Context.RAM, 0, 0}));
            assertEquals(List.of(ArmSmccc.RET_INVALID_PARAMETER), answers);
            assertTrue(c.log.get(0).startsWith("vCPU 0: MEM_SHARE(0x40000000) refused: "), c.log.toString());
            assertThrows(KvmException.class, () -> c.view.read(0, 8), "nothing changed: the page is still private");
        }
        try (Context c = new Context(SimProfile.INPLACE); SimVcpu vcpu = (SimVcpu) c.vm.createVcpu(0)) {
            PlatformException cannotUndo = new PlatformException("machine", "convert", "could not be undone",
                    new IllegalStateException("rollback failed"));
            c.failure = cannotUndo;
            VcpuExit.Hypercall share = new VcpuExit.Hypercall(ArmSmccc.KVM_FUNC_MEM_SHARE, new long[] {Context.RAM, 0, 0, 0, 0, 0}, 0);
            assertSame(cannotUndo, assertThrows(PlatformException.class, () -> platform.onExit(c, vcpu, share)));
        }
    }

    @Test
    void anExitWithBadArgumentsIsRefusedWithoutAConversionAndOtherExitsAreNotThePlatforms() throws Exception {
        try (Context c = new Context(SimProfile.INPLACE); SimVcpu vcpu = (SimVcpu) c.vm.createVcpu(0)) {
            for (long[] args : List.of(new long[] {Context.RAM, 1, 0}, new long[] {Context.RAM, 0, 1}, new long[] {Context.RAM + 8, 0, 0},
                    new long[] {-4096, 0, 0})) {
                VcpuExit.Hypercall h = new VcpuExit.Hypercall(ArmSmccc.KVM_FUNC_MEM_UNSHARE, new long[] {args[0], args[1], args[2], 0, 0, 0}, 0);
                assertEquals(ExitAction.RESUME, platform.onExit(c, vcpu, h));
            }
            assertEquals(List.of(), c.conversions);
            assertEquals(4, c.log.size(), c.log.toString());
            assertEquals(ExitAction.UNHANDLED, platform.onExit(c, vcpu, new VcpuExit.Hypercall(12, new long[6], 1)));
            assertEquals(ExitAction.UNHANDLED, platform.onExit(c, vcpu, new VcpuExit.Mmio(0x9000000, new byte[] {'x'}, 1, true)));
            assertEquals(List.of(), c.conversions);
        }
    }

    @Test
    void initVmFailsWhereTheShareExitsDoNotExist() {
        try (Context c = new Context(SimProfile.INPLACE)) {
            platform.initVm(c);
        }
        try (Context c = new Context(SimProfile.K7_3)) {
            PlatformException e = assertThrows(PlatformException.class, () -> platform.initVm(c));
            assertEquals("pkvm: enable KVM_CAP_EXIT_HYPERCALL: the VM offers 0x0, without MEM_SHARE and MEM_UNSHARE (0x18)", e.getMessage());
        }
    }

    @Test
    void launchLoadsAndMeasuresNothing() {
        try (Context c = new Context(SimProfile.INPLACE)) {
            assertEquals(0, platform.launch(c).measurement().length);
        }
    }
}
