package org.janus.platform.swprotected.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.junit.jupiter.api.Test;

class SwProtectedPlatformTest {
    private final SwProtectedPlatform platform = new SwProtectedPlatform();

    static PlatformSpec spec(Map<String, Object> options) { return new PlatformSpec(options, 1, null, null, null, null, null); }

    /** The parts of a VM context the platform uses, over a real VM. */
    record Context(Kvm kvm, KvmVm vm, List<String> lines) implements VmContext {
        public String name() { return "test"; }
        public PlatformSpec spec() { return SwProtectedPlatformTest.spec(Map.of()); }
        public List<KvmVcpu> vcpus() { return List.of(); }
        public boolean convertsInPlace() { return true; }
        public void writeGuest(long gpa, byte[] data) { throw new UnsupportedOperationException(); }
        public byte[] readGuest(long gpa, int length) { throw new UnsupportedOperationException(); }
        public void convert(long gpa, long size, PageState target) { throw new UnsupportedOperationException(); }
        public boolean isUniform(long gpa, long size, PageState state) { return false; }
        public Map<String, Object> platformState() { return Map.of(); }
        public void log(String message) { lines.add(message); }
    }

    @Test
    void supportFollowsTheVmTypesMask() {
        for (SimHardware h : List.of(SimHardware.X86, SimHardware.AMD_SNP, SimHardware.INTEL_TDX)) {
            ConfidentialPlatform.Support s = platform.support(SimKvm.create(SimProfile.INPLACE, h));
            assertTrue(s.supported(), h + ": " + s.reason());
            assertTrue(s.reason().contains("has type 1"), s.reason());
        }
        ConfidentialPlatform.Support arm = platform.support(SimKvm.create(SimProfile.K7_3, SimHardware.ARM64));
        assertFalse(arm.supported());
        assertTrue(arm.reason().contains("KVM_CAP_VM_TYPES=0x0 lacks type 1"), arm.reason());
        assertEquals(VmType.X86_SW_PROTECTED, platform.vmType(SimKvm.create(SimProfile.INPLACE, SimHardware.X86)));
    }

    @Test
    void ramStartsPrivateUnlessTheSpecSaysShared() {
        assertEquals(PageState.PRIVATE, platform.initialRamState(spec(Map.of())));
        assertEquals(PageState.PRIVATE, platform.initialRamState(spec(Map.of("initialState", "private"))));
        assertEquals(PageState.SHARED, platform.initialRamState(spec(Map.of("initialState", "shared"))));
        assertEquals(List.of(), platform.validate(spec(Map.of("initialState", "shared"))));
        List<ConfidentialPlatform.Problem> p = platform.validate(spec(Map.of("initialState", 3L, "policy", "x")));
        assertEquals(List.of("$.platform.initialState", "$.platform.policy"), p.stream().map(ConfidentialPlatform.Problem::path).sorted().toList());
        List<ConfidentialPlatform.Problem> images = platform.validate(new PlatformSpec(Map.of(), 1, null, null, null, null, "quiet"));
        assertEquals("$.images.cmdline", images.get(0).path());
    }

    @Test
    void initVmLetsMapGpaRangeReachTheVmm() throws Exception {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            platform.initVm(new Context(kvm, vm, new ArrayList<>()));
            SimVcpu vcpu = (SimVcpu) vm.createVcpu(0);
            AtomicLong answer = new AtomicLong(-1);
            vcpu.load(cpu -> answer.set(cpu.mapGpaRange(0, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED)));
            VcpuExit.Hypercall h = assertInstanceOf(VcpuExit.Hypercall.class, vcpu.run(), "without the capability KVM answers the guest itself");
            assertEquals(Hypercalls.KVM_HC_MAP_GPA_RANGE, h.nr());
            vcpu.completeHypercall(0);
            assertInstanceOf(VcpuExit.SystemEvent.class, vcpu.run());
            assertEquals(0, answer.get());
            vcpu.close();
        }
    }

    @Test
    void withoutTheCapabilityInitVmSaysSoAndTheGuestGetsEnosys() throws Exception {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            SimVcpu vcpu = (SimVcpu) vm.createVcpu(0);
            AtomicLong answer = new AtomicLong();
            vcpu.load(cpu -> answer.set(cpu.mapGpaRange(0, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED)));
            assertInstanceOf(VcpuExit.SystemEvent.class, vcpu.run());
            assertEquals(-Hypercalls.KVM_ENOSYS, answer.get());
            vcpu.close();
        }
    }
}
