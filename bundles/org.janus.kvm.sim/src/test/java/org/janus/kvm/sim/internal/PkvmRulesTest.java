package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.P;
import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.MemslotFlags;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/** pKVM's protected VMs on the software KVM: the VM type, memslot rules, and the guest's share and unshare calls. */
class PkvmRulesTest {
    private static final long PVM = VmType.ARM_PROTECTED | 40;
    /** Guest RAM under test: four pages of guest_memfd at 1 GiB. */
    private static final long RAM = 1L << 30;

    private static SimKvm pkvm(SimProfile profile) { return SimKvm.create(profile, SimHardware.ARM64_PKVM); }

    // ---- the VM type and its IPA size ----

    @Test
    void protectedVmsAndIpaSizesExistOnlyWithPkvm() throws Exception {
        SimKvm kvm = pkvm(SimProfile.K7_3);
        assertEquals(48, kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE));
        for (long ipa : new long[] {0, 32, 40, 48}) kvm.createVm(VmType.ARM_PROTECTED | ipa).close();
        for (long ipa : new long[] {1, 31, 49, 0xff})
            assertErrno(Errno.EINVAL, () -> kvm.createVm(VmType.ARM_PROTECTED | ipa));
        assertErrno(Errno.EINVAL, () -> kvm.createVm(VmType.ARM_PROTECTED | (1L << 30)));
        assertErrno(Errno.EINVAL, () -> SimKvm.create(SimProfile.INPLACE, SimHardware.ARM64).createVm(PVM));
        assertErrno(Errno.EINVAL, () -> SimKvm.create(SimProfile.INPLACE, SimHardware.X86).createVm(PVM));
        assertEquals(0, SimKvm.create(SimProfile.INPLACE, SimHardware.X86).checkExtension(KvmCap.ARM_VM_IPA_SIZE));
    }

    @Test
    void aMemslotMustEndWithinTheIpaSpace() throws Exception {
        try (KvmVm vm = pkvm(SimProfile.INPLACE).createVm(VmType.ARM_PROTECTED | 32);
             GuestMemfd g = vm.createGuestMemfd(2L * P, GuestMemfdFlags.MMAP)) {
            assertErrno(Errno.EFAULT, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 1L << 32, P, 0, g, 0)));
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, (1L << 32) - P, P, 0, g, 0));
        }
    }

    // ---- memslots ----

    @Test
    void aProtectedVmsMemslotsAreFixedOnceAVcpuHasRun() throws Exception {
        SimKvm kvm = pkvm(SimProfile.INPLACE);
        try (KvmVm vm = kvm.createVm(PVM); HostMemfd mem = kvm.memfdCreate("ram", 8L * P); HostMapping map = mem.mmap(0, 8L * P, true)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 2L * P, map.address()));
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, 2L * P, 2L * P, map.address() + 2L * P));
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, 16L * P, 2L * P, map.address() + 2L * P)); // a move before the run
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, 0, 0, 0).deleted());
            try (SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
                cpu.setImmediateExit(true);
                assertInstanceOf(VcpuExit.Interrupted.class, cpu.run(), "the first KVM_RUN creates the hypervisor's VM all the same");
            }
            assertErrno(Errno.EPERM, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 0, 0)));
            assertErrno(Errno.EPERM, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 32L * P, 2L * P, map.address())));
            // Both refusals changed nothing: slot 0 still occupies [0, 2 pages), so an overlapping slot is EEXIST.
            assertErrno(Errno.EEXIST, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(5, P, P, map.address())));
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(2, 4L * P, 2L * P, map.address() + 4L * P)); // new slots: allowed
            // The generic checks come before pKVM's: deleting a slot that does not exist stays EINVAL.
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(9, 0, 0, 0)));
        }
    }

    @Test
    void aProtectedVmHasNoReadOnlyMemslotsAndNoDirtyLogging() throws Exception {
        SimKvm kvm = pkvm(SimProfile.K7_3);
        try (KvmVm vm = kvm.createVm(PVM); KvmVm normal = kvm.createVm(VmType.DEFAULT);
             HostMemfd mem = kvm.memfdCreate("ram", 4L * P); HostMapping map = mem.mmap(0, 4L * P, true)) {
            for (int flags : new int[] {MemslotFlags.READONLY, MemslotFlags.LOG_DIRTY_PAGES}) {
                assertErrno(Errno.EPERM, () -> vm.setUserMemoryRegion2(
                        new UserMemoryRegion2(0, flags, 0, P, map.address(), 0, null)));
                // A VM that is not protected has both under pKVM too (the hypervisor manages its stage 2 for the host).
                normal.setUserMemoryRegion2(new UserMemoryRegion2(flags == MemslotFlags.READONLY ? 0 : 1, flags,
                        flags == MemslotFlags.READONLY ? 0 : P, P, map.address(), 0, null));
            }
            // Turning dirty logging on for an existing slot is a FLAGS_ONLY change: EPERM as well.
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, P, map.address()));
            assertErrno(Errno.EPERM, () -> vm.setUserMemoryRegion2(
                    new UserMemoryRegion2(0, MemslotFlags.LOG_DIRTY_PAGES, 0, P, map.address(), 0, null)));
        }
    }

    @Test
    void aVmThatIsNotProtectedKeepsItsMemslotsMutable() throws Exception {
        SimKvm kvm = pkvm(SimProfile.INPLACE);
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT); HostMemfd mem = kvm.memfdCreate("ram", 2L * P);
             HostMapping map = mem.mmap(0, 2L * P, true)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 2L * P, map.address()));
            try (SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
                cpu.run();
            }
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 8L * P, 2L * P, map.address()));
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 0, 0).deleted());
        }
    }

    // ---- capabilities ----

    @Test
    void theInPlaceProfileGivesProtectedVmsGuestMemfdAttributesAndShareExits() throws Exception {
        try (KvmVm vm = pkvm(SimProfile.INPLACE).createVm(PVM); KvmVm normal = pkvm(SimProfile.INPLACE).createVm(VmType.DEFAULT)) {
            assertEquals(MemoryAttribute.PRIVATE, vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES));
            assertEquals(0, vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES), "arm64 has no VM-wide attributes");
            assertEquals(GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED, vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS));
            assertEquals(ArmSmccc.PKVM_EXIT_HYPERCALL_MASK, vm.checkExtension(KvmCap.EXIT_HYPERCALL));
            assertEquals(0x18, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK);
            assertEquals(0, normal.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES), "only protected VMs have private memory");
        }
        for (SimProfile before : List.of(SimProfile.K6_12, SimProfile.K7_3, SimProfile.INPLACE_OFF)) {
            try (KvmVm vm = pkvm(before).createVm(PVM)) {
                assertEquals(0, vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES), before.id());
                assertEquals(0, vm.checkExtension(KvmCap.EXIT_HYPERCALL), before.id());
                assertErrno(Errno.EINVAL, () -> vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK)));
            }
        }
    }

    @Test
    void enablingTheShareExitsTakesOnlyTheirBits() throws Exception {
        try (KvmVm vm = pkvm(SimProfile.INPLACE).createVm(PVM)) {
            assertErrno(Errno.EINVAL, () -> vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << 12)));
            assertErrno(Errno.EINVAL, () -> vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK, 1)));
            assertErrno(Errno.EINVAL, () -> vm.enableCap(new EnableCap(KvmCap.EXIT_HYPERCALL.number(), 1,
                    new long[] {ArmSmccc.PKVM_EXIT_HYPERCALL_MASK})));
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << ArmSmccc.KVM_FUNC_MEM_SHARE));
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK));
        }
    }

    // ---- share and unshare ----

    /** A pVM with four guest_memfd pages at {@link #RAM}, private from the start, and the VMM's view of them. */
    private static final class Pvm implements AutoCloseable {
        final KvmVm vm;
        final GuestMemfd gmem;
        final HostMapping view;
        final SimVcpu cpu;

        Pvm(boolean exitsEnabled) {
            vm = pkvm(SimProfile.INPLACE).createVm(PVM);
            gmem = vm.createGuestMemfd(4L * P, GuestMemfdFlags.MMAP);
            view = gmem.mmap(0, 4L * P, true);
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, RAM, 4L * P, view.address(), gmem, 0));
            if (exitsEnabled) vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK));
            cpu = (SimVcpu) vm.createVcpu(0);
        }

        /** What the VMM does for a share or unshare exit: the guest_memfd attribute of the page. */
        void convert(VcpuExit.Hypercall h) {
            boolean share = h.nr() == ArmSmccc.KVM_FUNC_MEM_SHARE;
            gmem.setMemoryAttributes2(MemoryAttributes2.of(h.arg(0) - RAM, P, share ? 0 : MemoryAttribute.PRIVATE));
        }

        @Override public void close() {
            cpu.close();
            view.close();
            gmem.close();
            vm.close();
        }
    }

    private static VcpuExit.Hypercall expectShareExit(SimVcpu cpu, long nr, long ipa) {
        VcpuExit.Hypercall h = assertInstanceOf(VcpuExit.Hypercall.class, cpu.run());
        assertEquals(new VcpuExit.Hypercall(nr, new long[] {ipa, 0, 0, 0, 0, 0}, 0), h);
        return h;
    }

    private static void expectGuestEnd(SimVcpu cpu) {
        VcpuExit end = cpu.run();
        assertEquals(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[0]), end,
                () -> "the guest failed: " + cpu.guestFailure().map(Throwable::toString).orElse("-"));
    }

    @Test
    void shareAndUnshareReachTheVmmAndKeepTheContents() {
        byte[] guestData = "drawn while private".getBytes();
        byte[] hostData = "cursor drawn by the host".getBytes();
        List<Long> answers = new ArrayList<>();
        try (Pvm p = new Pvm(true)) {
            p.cpu.load(g -> {
                answers.add(g.smccc(ArmSmccc.KVM_HYP_MEMINFO));
                g.write(RAM + P, guestData);
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM + P, 0, 0));
                answers.add(g.smccc(ArmSmccc.KVM_MEM_UNSHARE, RAM + P, 0, 0));
                byte[] back = g.read(RAM + P, hostData.length);
                if (!java.util.Arrays.equals(back, hostData)) throw new IllegalStateException("the host's data was lost: " + new String(back));
            });
            assertThrows(KvmException.class, () -> p.view.read(P, 8), "a protected VM's page starts private: the host cannot read it");
            VcpuExit.Hypercall share = expectShareExit(p.cpu, ArmSmccc.KVM_FUNC_MEM_SHARE, RAM + P);
            p.convert(share);
            assertArrayEquals(guestData, p.view.read(P, guestData.length), "shared in place: the host sees what the guest wrote");
            p.view.write(P, hostData);
            p.cpu.completeHypercall(ArmSmccc.RET_SUCCESS);
            VcpuExit.Hypercall unshare = expectShareExit(p.cpu, ArmSmccc.KVM_FUNC_MEM_UNSHARE, RAM + P);
            p.convert(unshare);
            assertThrows(KvmException.class, () -> p.view.read(P, 8), "unshared: the host's mapping of the page is revoked");
            p.cpu.completeHypercall(ArmSmccc.RET_SUCCESS);
            expectGuestEnd(p.cpu);
            assertEquals(List.of((long) P, 0L, 0L), answers);
        }
    }

    @Test
    void badArgumentsGetInvalidParameterWithoutAnExitAndChangeNothing() {
        List<Long> answers = new ArrayList<>();
        try (Pvm p = new Pvm(true)) {
            p.cpu.load(g -> {
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 1, 0));           // x2 reserved
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 0, 1));           // x3 reserved
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM + 8, 0, 0));       // unaligned
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, 0x1000, 0, 0));        // no memory there
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, -P, 0, 0));            // far outside the IPA space
                answers.add(g.smccc(ArmSmccc.KVM_MEM_UNSHARE, RAM, 0, 0));         // not shared
                answers.add(g.smccc(ArmSmccc.KVM_HYP_MEMINFO, 1));                 // reserved
                answers.add(g.smccc(0xC6000063));                                  // a vendor function KVM does not know
            });
            expectGuestEnd(p.cpu);
            long inv = ArmSmccc.RET_INVALID_PARAMETER;
            assertEquals(List.of(inv, inv, inv, inv, inv, inv, inv, ArmSmccc.RET_NOT_SUPPORTED), answers);
            assertThrows(KvmException.class, () -> p.view.read(0, 8), "every page is still private");
        }
    }

    @Test
    void sharingAPageThatIsAlreadySharedIsRefused() {
        List<Long> answers = new ArrayList<>();
        try (Pvm p = new Pvm(true)) {
            p.gmem.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0));
            p.cpu.load(g -> answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 0, 0)));
            expectGuestEnd(p.cpu);
            assertEquals(List.of(ArmSmccc.RET_INVALID_PARAMETER), answers);
        }
    }

    @Test
    void withoutTheExitEnabledTheGuestIsRefusedAndTheVmmSeesNothing() {
        List<Long> answers = new ArrayList<>();
        try (Pvm p = new Pvm(false)) {
            p.cpu.load(g -> answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 0, 0)));
            expectGuestEnd(p.cpu);
            assertEquals(List.of(ArmSmccc.RET_INVALID_PARAMETER), answers);
        }
    }

    @Test
    void theVmmsAnswerDecidesAndAZeroWithoutTheConversionIsNotASuccess() {
        List<Long> answers = new ArrayList<>();
        try (Pvm p = new Pvm(true)) {
            p.cpu.load(g -> {
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 0, 0));
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 0, 0));
            });
            expectShareExit(p.cpu, ArmSmccc.KVM_FUNC_MEM_SHARE, RAM);
            p.cpu.completeHypercall(ArmSmccc.RET_INVALID_PARAMETER);                  // the VMM refuses
            expectShareExit(p.cpu, ArmSmccc.KVM_FUNC_MEM_SHARE, RAM);
            p.cpu.completeHypercall(ArmSmccc.RET_SUCCESS);                            // "done", but nothing converted
            expectGuestEnd(p.cpu);
            assertEquals(List.of(ArmSmccc.RET_INVALID_PARAMETER, ArmSmccc.RET_INVALID_PARAMETER), answers);
            assertThrows(KvmException.class, () -> p.view.read(0, 8), "the page is still private");
        }
    }

    @Test
    void onlyProtectedVmsHaveTheMemoryCalls() throws Exception {
        SimKvm kvm = pkvm(SimProfile.INPLACE);
        List<Long> answers = new ArrayList<>();
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            cpu.load(g -> {
                answers.add(g.smccc(ArmSmccc.KVM_HYP_MEMINFO));
                answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, 0, 0, 0));
                answers.add(g.smccc(ArmSmccc.KVM_MEM_UNSHARE, 0, 0, 0));
            });
            expectGuestEnd(cpu);
        }
        assertEquals(List.of(ArmSmccc.RET_NOT_SUPPORTED, ArmSmccc.RET_NOT_SUPPORTED, ArmSmccc.RET_NOT_SUPPORTED), answers);
    }

    // ---- the instruction set ----

    @Test
    void arm64HasNoPortIoNoHltAndX86NoHvc() {
        for (String instruction : List.of("OUT", "IN", "HLT")) {
            try (KvmVm vm = pkvm(SimProfile.INPLACE).createVm(PVM); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
                cpu.load(g -> {
                    if (g.architecture() != GuestCpu.Architecture.ARM64) throw new AssertionError("not arm64");
                    switch (instruction) {
                        case "OUT" -> g.out(0x3f8, 1, 'x');
                        case "IN" -> g.in(0x60, 1);
                        default -> g.hlt();
                    }
                });
                assertEquals(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_CRASH, new long[0]), cpu.run());
                assertTrue(cpu.guestFailure().orElseThrow().getMessage().startsWith("arm64 has no " + instruction), instruction);
            }
        }
        try (KvmVm vm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86).createVm(VmType.DEFAULT);
             SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            cpu.load(g -> g.smccc(ArmSmccc.PSCI_SYSTEM_OFF));
            assertEquals(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_CRASH, new long[0]), cpu.run());
            assertTrue(cpu.guestFailure().orElseThrow().getMessage().startsWith("x86 has no HVC"));
        }
    }

    // ---- PSCI ----

    @Test
    void psciTurnsVcpusAndTheSystemOff() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        List<Long> answers = new ArrayList<>();
        try (KvmVm vm = pkvm(SimProfile.INPLACE).createVm(PVM); SimVcpu boot = (SimVcpu) vm.createVcpu(0);
             SimVcpu second = (SimVcpu) vm.createVcpu(17)) {
            long secondAff = (1L << 8) | 1;   // vCPU 17: Aff1 = 1, Aff0 = 1
            CountDownLatch asked = new CountDownLatch(1);
            boot.load(g -> {
                answers.add(g.smccc(ArmSmccc.PSCI_AFFINITY_INFO_64, secondAff, 0));
                asked.countDown();
                answers.add(g.smccc(ArmSmccc.PSCI_AFFINITY_INFO_64, 1L << 40, 0));  // not an affinity
                answers.add(g.smccc(ArmSmccc.PSCI_AFFINITY_INFO_64, secondAff, 4)); // no such level
                answers.add(g.smccc(ArmSmccc.PSCI_AFFINITY_INFO_64, 0x7, 0));       // nobody there
                while (g.smccc(ArmSmccc.PSCI_AFFINITY_INFO, secondAff, 0) != ArmSmccc.PSCI_AFFINITY_OFF) Thread.onSpinWait();
                answers.add(g.smccc(ArmSmccc.PSCI_AFFINITY_INFO_64, 0, 1));          // Aff0 ignored: vCPU 0 is on
                g.smccc(ArmSmccc.PSCI_SYSTEM_OFF);
            });
            second.load(g -> {
                asked.await();
                g.smccc(ArmSmccc.PSCI_CPU_OFF);
            });
            Future<VcpuExit> sleeping = pool.submit(second::run);
            assertEquals(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[] {0}), boot.run());
            assertThrows(TimeoutException.class, () -> sleeping.get(200, TimeUnit.MILLISECONDS), "a vCPU that is off stays in KVM_RUN");
            second.setImmediateExit(true);
            assertInstanceOf(VcpuExit.Interrupted.class, sleeping.get(5, TimeUnit.SECONDS), "the VMM's kick ends the wait");
            assertEquals(List.of(ArmSmccc.PSCI_AFFINITY_ON, ArmSmccc.PSCI_RET_INVALID_PARAMS, ArmSmccc.PSCI_RET_INVALID_PARAMS,
                    ArmSmccc.PSCI_AFFINITY_OFF, ArmSmccc.PSCI_AFFINITY_ON), answers);
        } finally {
            pool.shutdownNow();
        }
    }
}
