package org.janus.kvm.linux.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.FallocateMode;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The provider on the real /dev/kvm: skipped, with the reason, where it does not open. Small on purpose: it also
 * runs in a nested KVM guest under TCG. Tiny real-mode x86 guests are hand-assembled below.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RealKvmTest {
    /** Guest RAM: 32 KiB at GPA 0, one default-VM guest_memfd created MMAP | INIT_SHARED and mapped as the slot. */
    private static final long RAM = 0x8000;
    private static final long CODE = 0x1000;
    private static final long DATA = 0x2000;
    /** Outside every memslot, so guest accesses there are MMIO. */
    private static final long MMIO = 0x9000;

    private static LinuxKvm kvm;

    @BeforeAll
    static void openKvm() {
        LinuxKvmProbe probe = LinuxKvmProbe.of(LinuxKvm.DEVICE);
        assumeTrue(probe.usable(), "no usable KVM on this host: " + probe.reason());
        kvm = probe.kvm();
    }

    @AfterAll
    static void closeKvm() {
        if (kvm != null) kvm.close();
    }

    @Test
    void systemAnswers() {
        assertEquals(Kvm.API_VERSION, kvm.getApiVersion());
        assertEquals("linux", kvm.provider());
        assertTrue(kvm.getVcpuMmapSize() >= Structs.KvmRun.T.size(), "the kvm_run mapping holds struct kvm_run");
        assertTrue(kvm.checkExtension(KvmCap.USER_MEMORY) > 0, "every KVM has user memory slots");
        assertEquals(LinuxKvm.DEVICE, kvm.hostDiagnostics().get("kvm.device"));
        assertTrue(kvm.hostDiagnostics().containsKey("kernel.release"));
        assertEquals(0, kvm.checkExtension(0x7fff_0000), "an unknown capability answers 0");
        int gmemAttributes = kvm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES);
        assertTrue(gmemAttributes == 0 || gmemAttributes == MemoryAttribute.PRIVATE, "answer " + gmemAttributes);
    }

    @Test
    void supportedCpuidIsReadAndTooSmallABufferIsE2big() {
        List<CpuidEntry> cpuid = kvm.getSupportedCpuid(512);
        assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0 && e.eax() > 0), "leaf 0 names the highest leaf");
        KvmException small = assertThrows(KvmException.class, () -> kvm.getSupportedCpuid(1));
        assertEquals(Errno.E2BIG, small.errno());
        assertEquals("KVM_GET_SUPPORTED_CPUID", small.operation());
    }

    @Test
    void defaultVmGuestMemfdRules() {
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            assumeTrue(vm.checkExtension(KvmCap.GUEST_MEMFD) > 0, "KVM_CAP_GUEST_MEMFD is not offered");
            KvmException unaligned = assertThrows(KvmException.class, () -> vm.createGuestMemfd(kvm.pageSize() + 1, 0));
            assertEquals(Errno.EINVAL, unaligned.errno());
            assertEquals("KVM_CREATE_GUEST_MEMFD", unaligned.operation());
            try (GuestMemfd gmem = vm.createGuestMemfd(kvm.pageSize(), 0)) {
                assertEquals(kvm.pageSize(), gmem.fstat().size());
                assertEquals(Errno.ENODEV, assertThrows(KvmException.class, () -> gmem.mmap(0, kvm.pageSize(), true)).errno());
                assertEquals(Errno.EOPNOTSUPP, assertThrows(KvmException.class, () -> gmem.fallocate(0, 0, kvm.pageSize())).errno());
                gmem.fallocate(FallocateMode.KEEP_SIZE, 0, kvm.pageSize());
                assertEquals(-1, gmem.allocatedBytes(), "without MMAP nothing measures a guest_memfd");
            }
        }
    }

    @Test
    void allocatedBytesOfAMappableGuestMemfdFollowFallocate() {
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            long flags = GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED;
            assumeTrue((vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS) & flags) == flags,
                    "the default VM does not offer guest_memfd MMAP | INIT_SHARED (Linux 6.18+)");
            long page = kvm.pageSize();
            try (GuestMemfd gmem = vm.createGuestMemfd(4 * page, flags); HostMapping map = gmem.mmap(0, 4 * page, true)) {
                assertEquals(0, gmem.allocatedBytes());
                gmem.allocate(page, 2 * page);
                long fallocated = gmem.allocatedBytes();
                map.read(page, 2 * (int) page);
                assertEquals(2 * page, gmem.allocatedBytes(), "pages the host has touched (fallocate alone: " + fallocated + ")");
                gmem.punchHole(page, page);
                assertEquals(page, gmem.allocatedBytes());
                assertEquals(Errno.EINVAL, assertThrows(KvmException.class, () -> gmem.mmap(0, page, false)).errno(),
                        "MAP_PRIVATE of a guest_memfd");
            }
        }
    }

    @Test
    void memoryEncryptOpIsRefusedOnADefaultVm() {
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            assertEquals(Errno.ENOTTY, assertThrows(KvmException.class, vm::memoryEncryptOpProbe).errno());
        }
    }

    @Test
    void memslotBindingErrorsComeFromTheKernel() {
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            assumeTrue(vm.checkExtension(KvmCap.USER_MEMORY2) > 0 && vm.checkExtension(KvmCap.GUEST_MEMFD) > 0,
                    "KVM_CAP_USER_MEMORY2 or KVM_CAP_GUEST_MEMFD is not offered");
            long page = kvm.pageSize();
            GuestMemfd closed = vm.createGuestMemfd(page, 0);
            closed.close();
            KvmException badFd = assertThrows(KvmException.class, () -> vm.setUserMemoryRegion2(
                    UserMemoryRegion2.withGuestMemfd(0, 0, page, 0, closed, 0)));
            assertEquals(Errno.EBADF, badFd.errno());
            assertEquals("KVM_SET_USER_MEMORY_REGION2", badFd.operation());
            try (HostMemfd memfd = kvm.memfdCreate("not-a-gmem", page)) {
                assertEquals(Errno.EINVAL, assertThrows(KvmException.class, () -> vm.setUserMemoryRegion2(
                        UserMemoryRegion2.withGuestMemfd(0, 0, page, 0, memfd, 0))).errno());
            }
        }
    }

    @Test
    void guestMemfdAttributesProbeAgreesWithTheInterface() {
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            assumeTrue(vm.checkExtension(KvmCap.GUEST_MEMFD) > 0, "KVM_CAP_GUEST_MEMFD is not offered");
            int answer = vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES);
            assertTrue(answer == 0 || answer == MemoryAttribute.PRIVATE, "answer " + answer);
            assertEquals(answer, vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES), "cached per VM");
            try (GuestMemfd gmem = vm.createGuestMemfd(kvm.pageSize(), 0)) {
                MemoryAttributes2 toPrivate = MemoryAttributes2.of(0, kvm.pageSize(), MemoryAttribute.PRIVATE);
                if (answer == 0) {
                    int errno = assertThrows(KvmException.class, () -> gmem.setMemoryAttributes2(toPrivate)).errno();
                    assertTrue(errno == Errno.ENOTTY || errno == Errno.EINVAL, Errno.name(errno));
                } else {
                    gmem.setMemoryAttributes2(toPrivate);
                }
            }
        }
    }

    @Test
    void realModeGuestReadsMemoryAndWritesAPort() {
        try (GuestVm g = GuestVm.create(kvm)) {
            g.load(CODE, 0xA0, 0x00, 0x20,   // mov al, [0x2000]
                    0xE6, 0x42,                  // out 0x42, al
                    0xF4);                       // hlt
            g.ram.write(DATA, new byte[] {0x5a});
            VcpuExit out = g.vcpu.run();
            assertEquals(new VcpuExit.Io(1, 1, 0x42, 1, new byte[] {0x5a}), out);
            assertInstanceOf(VcpuExit.Hlt.class, g.vcpu.run());
            assertEquals(CODE + 6, g.vcpu.getRegs().rip());
        }
    }

    @Test
    void inAndMmioAreCompletedByTheHost() {
        try (GuestVm g = GuestVm.create(kvm)) {
            g.load(CODE, 0xE4, 0x43,             // in al, 0x43
                    0xE6, 0x44,                  // out 0x44, al
                    0xA0, 0x00, 0x90,            // mov al, [0x9000]   (MMIO read)
                    0xE6, 0x45,                  // out 0x45, al
                    0xA2, 0x00, 0x90,            // mov [0x9000], al   (MMIO write)
                    0xF4);                       // hlt
            VcpuExit in = g.vcpu.run();
            assertEquals(new VcpuExit.Io(0, 1, 0x43, 1, new byte[1]), in);
            g.vcpu.completeIo(new byte[] {0x11});
            assertEquals(new VcpuExit.Io(1, 1, 0x44, 1, new byte[] {0x11}), g.vcpu.run());
            VcpuExit read = g.vcpu.run();
            assertEquals(new VcpuExit.Mmio(MMIO, new byte[1], 1, false), read);
            g.vcpu.completeMmio(new byte[] {0x22});
            assertEquals(new VcpuExit.Io(1, 1, 0x45, 1, new byte[] {0x22}), g.vcpu.run());
            assertEquals(new VcpuExit.Mmio(MMIO, new byte[] {0x22}, 1, true), g.vcpu.run());
            assertInstanceOf(VcpuExit.Hlt.class, g.vcpu.run());
        }
    }

    @Test
    void immediateExitInterruptsRun() {
        try (GuestVm g = GuestVm.create(kvm)) {
            g.load(CODE, 0xF4);
            g.vcpu.setImmediateExit(true);
            assertInstanceOf(VcpuExit.Interrupted.class, g.vcpu.run());
            g.vcpu.setImmediateExit(false);
            assertInstanceOf(VcpuExit.Hlt.class, g.vcpu.run());
        }
    }

    /**
     * A guest that spins (jmp $) never exits by itself, and immediate_exit is read only on entry: the kick's signal
     * is what brings KVM_RUN back, with EINTR. Without it this test fails by its timeout.
     */
    @Test
    void aKickInterruptsAGuestThatSpins() throws Exception {
        try (GuestVm g = GuestVm.create(kvm)) {
            g.load(CODE, 0xEB, 0xFE);            // jmp $
            java.util.concurrent.CompletableFuture<VcpuExit> run = java.util.concurrent.CompletableFuture.supplyAsync(g.vcpu::run);
            long deadline = System.nanoTime() + 10_000_000_000L;
            // Kicks until KVM_RUN returns: the first may come before the thread entered KVM_RUN (then immediate_exit
            // makes the entry return at once), so the loop ends on the run's result, not on a timing guess.
            while (!run.isDone()) {
                assertTrue(System.nanoTime() < deadline, "KVM_RUN of a spinning guest did not return within 10 s of kicks");
                g.vcpu.kick();
                Thread.sleep(10);
            }
            assertInstanceOf(VcpuExit.Interrupted.class, run.get());
            assertEquals(CODE, g.vcpu.getRegs().rip(), "the guest is still at its jmp");
            g.vcpu.setImmediateExit(false);
        }
    }

    /**
     * kvm_pvm (a KVM backend that runs guests without SVM/VMX) reaches hypercalls only through its own paravirtual
     * ABI: VMMCALL and VMCALL raise #UD in the guest, so these guests cannot make one there.
     */
    private static void assumeHardwareHypercalls() {
        assumeFalse(Files.isDirectory(Path.of("/sys/module/kvm_pvm")),
                "kvm_pvm is loaded: its guests make hypercalls through PVM's own ABI, not VMMCALL/VMCALL");
    }

    @Test
    void mapGpaRangeHypercallExitsAndItsReturnValueReachesTheGuest() {
        assumeHardwareHypercalls();
        try (GuestVm g = GuestVm.create(kvm)) {
            assumeTrue((g.vm.checkExtension(KvmCap.EXIT_HYPERCALL) & (1L << Hypercalls.KVM_HC_MAP_GPA_RANGE)) != 0,
                    "KVM_CAP_EXIT_HYPERCALL does not offer KVM_HC_MAP_GPA_RANGE");
            g.vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
            g.loadHypercall();
            VcpuExit exit = g.vcpu.run();
            assertEquals(new VcpuExit.Hypercall(Hypercalls.KVM_HC_MAP_GPA_RANGE,
                    new long[] {0x3000, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED, 0, 0, 0}, 0), exit);
            g.vcpu.completeHypercall(0);
            assertEquals(new VcpuExit.Io(1, 1, 0x46, 1, new byte[] {0}), g.vcpu.run(), "rax = hypercall.ret");
            assertInstanceOf(VcpuExit.Hlt.class, g.vcpu.run());
        }
    }

    @Test
    void mapGpaRangeWithoutTheCapabilityReturnsEnosysToTheGuest() {
        assumeHardwareHypercalls();
        try (GuestVm g = GuestVm.create(kvm)) {
            g.loadHypercall();
            // -KVM_ENOSYS truncated to 32 bits outside long mode; its low byte reaches the port.
            byte low = (byte) -Hypercalls.KVM_ENOSYS;
            assertEquals(new VcpuExit.Io(1, 1, 0x46, 1, new byte[] {low}), g.vcpu.run());
        }
    }

    @Test
    void closedVcpuAnswersEbadf() {
        try (GuestVm g = GuestVm.create(kvm)) {
            g.vcpu.close();
            assertEquals(Errno.EBADF, assertThrows(KvmException.class, g.vcpu::run).errno());
            assertEquals(Errno.EBADF, assertThrows(KvmException.class, g.vcpu::getRegs).errno());
        }
    }

    /** A default VM with one gmem-only memslot over {@link #RAM} and one vCPU in real mode at CS:IP = 0:CODE. */
    private record GuestVm(Kvm kvm, KvmVm vm, GuestMemfd gmem, HostMapping ram, KvmVcpu vcpu) implements AutoCloseable {
        static GuestVm create(Kvm kvm) {
            KvmVm vm = kvm.createVm(VmType.DEFAULT);
            try {
                long flags = GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED;
                assumeTrue((vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS) & flags) == flags,
                        "the default VM does not offer guest_memfd MMAP | INIT_SHARED (Linux 6.18+)");
                GuestMemfd gmem = vm.createGuestMemfd(RAM, flags);
                HostMapping ram = gmem.mmap(0, RAM, true);
                vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, RAM, ram.address(), gmem, 0));
                KvmVcpu vcpu = vm.createVcpu(0);
                Sregs s = vcpu.getSregs();
                Sregs.Segment cs = s.cs();
                vcpu.setSregs(s.withCs(new Sregs.Segment(0, cs.limit(), 0, cs.type(), cs.present(), cs.dpl(), cs.db(),
                        cs.s(), cs.l(), cs.g(), cs.avl(), cs.unusable())));
                vcpu.setRegs(Regs.reset().withRip(CODE));
                return new GuestVm(kvm, vm, gmem, ram, vcpu);
            } catch (RuntimeException | Error e) {
                vm.close();
                throw e;
            }
        }

        void load(long gpa, int... bytes) {
            byte[] b = new byte[bytes.length];
            for (int i = 0; i < b.length; i++) b[i] = (byte) bytes[i];
            ram.write(gpa, b);
        }

        /** KVM_HC_MAP_GPA_RANGE(gpa 0x3000, 1 page, ENCRYPTED), then OUT 0x46 of AL (the result), then HLT. */
        void loadHypercall() {
            List<CpuidEntry> supported = kvm.getSupportedCpuid(512);
            vcpu.setCpuid2(supported);
            boolean amd = supported.stream().anyMatch(e -> e.function() == 0 && e.ebx() == 0x68747541); // "Auth"
            load(CODE, 0x66, 0xB8, 0x0C, 0x00, 0x00, 0x00,   // mov eax, 12 (KVM_HC_MAP_GPA_RANGE)
                    0x66, 0xBB, 0x00, 0x30, 0x00, 0x00,      // mov ebx, 0x3000 (a0: GPA)
                    0x66, 0xB9, 0x01, 0x00, 0x00, 0x00,      // mov ecx, 1 (a1: pages)
                    0x66, 0xBA, 0x10, 0x00, 0x00, 0x00,      // mov edx, 0x10 (a2: ENCRYPTED, 4K)
                    0x0F, 0x01, amd ? 0xD9 : 0xC1,           // vmmcall (AMD) / vmcall (Intel)
                    0xE6, 0x46,                              // out 0x46, al
                    0xF4);                                   // hlt
        }

        @Override public void close() {
            vcpu.close();
            ram.close();
            gmem.close();
            vm.close();
        }
    }
}
