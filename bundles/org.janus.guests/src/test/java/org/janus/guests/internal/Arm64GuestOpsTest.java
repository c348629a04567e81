package org.janus.guests.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
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
import org.janus.machine.GuestPorts;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramContext.AccessModel;
import org.janus.machine.SpecProblem;
import org.janus.memory.api.RamRegion;
import org.junit.jupiter.api.Test;

/**
 * What the guest programs do on arm64, driven by hand on a protected VM of the software KVM: console bytes as MMIO
 * writes to the UART, conversions as pKVM's MEM_SHARE/MEM_UNSHARE one granule at a time, the end as PSCI; and the
 * programs that convert with MAP_GPA_RANGE refuse a pkvm VM before anything runs.
 */
class Arm64GuestOpsTest {
    static final long RAM = 1L << 30;
    static final RamRegion REGION = new RamRegion("ram", 0, RAM, 64L << 20);

    static GuestProgramContext context(String platform, Map<String, Object> options) {
        return new GuestProgramContext(platform, options, List.of(REGION), 0, 1, AccessModel.KVM_DERIVED, true);
    }

    @Test
    void printingConvertingAndEndingOnArm64() throws Exception {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64_PKVM);
        long size = 4 * 4096;
        try (KvmVm vm = kvm.createVm(VmType.ARM_PROTECTED | 32); GuestMemfd gmem = vm.createGuestMemfd(size, GuestMemfdFlags.MMAP);
             HostMapping view = gmem.mmap(0, size, true); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, RAM, size, view.address(), gmem, 0));
            vm.enableCap(org.janus.kvm.api.EnableCap.of(org.janus.kvm.api.KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK));
            GuestProgramContext c = context("pkvm", Map.of());
            cpu.load(g -> {
                GuestOps.print(g, c, "hi");
                GuestOps.convert(g, RAM, 2 * 4096, false, "test");
                GuestOps.convert(g, RAM, 2 * 4096, true, "test");
                GuestOps.finish(g, c);
            });
            StringBuilder console = new StringBuilder();
            List<String> shares = new ArrayList<>();
            while (true) {
                VcpuExit exit = cpu.run();
                if (exit instanceof VcpuExit.Mmio m) {
                    assertEquals(GuestPorts.CONSOLE_MMIO, m.physAddr());
                    assertTrue(m.isWrite());
                    console.append((char) m.data()[0]);
                } else if (exit instanceof VcpuExit.Hypercall h) {
                    boolean share = h.nr() == ArmSmccc.KVM_FUNC_MEM_SHARE;
                    shares.add((share ? "share " : "unshare ") + Long.toHexString(h.arg(0)));
                    gmem.setMemoryAttributes2(MemoryAttributes2.of(h.arg(0) - RAM, 4096, share ? 0 : MemoryAttribute.PRIVATE));
                    cpu.completeHypercall(ArmSmccc.RET_SUCCESS);
                } else {
                    assertEquals(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[] {0}), assertInstanceOf(
                            VcpuExit.SystemEvent.class, exit), () -> "guest failed: " + cpu.guestFailure());
                    break;
                }
            }
            assertEquals("hi\n", console.toString());
            assertEquals(List.of("share 40000000", "share 40001000", "unshare 40000000", "unshare 40001000"), shares);
        }
    }

    @Test
    void programsThatConvertWithMapGpaRangeRefuseAPkvmVm() {
        List<SpecProblem> storm = new ConversionStormFactory().validate(context("pkvm", Map.of()));
        assertTrue(storm.stream().anyMatch(p -> p.message().contains("MAP_GPA_RANGE, an x86 hypercall")), storm.toString());
        List<SpecProblem> script = new ScriptFactory().validate(context("pkvm", Map.of("steps",
                List.of(Map.of("op", "convert", "gpa", "1G", "size", "4K", "to", "shared")))));
        assertTrue(script.stream().anyMatch(p -> p.message().contains("MAP_GPA_RANGE, an x86 hypercall")), script.toString());
        assertEquals(List.of(), new FramebufferFactory().validate(context("pkvm", Map.of("size", "1M"))));
    }
}
