package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.P;
import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/** The vCPU handoff and the exits KVM produces for guest accesses and hypercalls. */
class VcpuExitTest {
    private static final long PRIV = MemoryAttribute.PRIVATE;

    @Test
    void runHandsControlToTheGuestAndBack() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            assertInstanceOf(VcpuExit.InternalError.class, cpu.run());
            cpu.load(g -> {
                g.out(0x3f8, 1, 'A');
                long v = g.in(0x60, 2);
                g.out(0x80, 4, v + 1);
                g.hlt();
            });
            VcpuExit.Io out = assertInstanceOf(VcpuExit.Io.class, cpu.run());
            assertEquals('A', out.value());
            assertTrue(out.isOut());
            VcpuExit.Io in = assertInstanceOf(VcpuExit.Io.class, cpu.run());
            assertFalse(in.isOut());
            cpu.completeIo(new byte[] {0x34, 0x12});
            cpu.setImmediateExit(true);
            assertInstanceOf(VcpuExit.Interrupted.class, cpu.run());
            cpu.setImmediateExit(false);
            assertEquals(0x1235, assertInstanceOf(VcpuExit.Io.class, cpu.run()).value());
            assertInstanceOf(VcpuExit.Hlt.class, cpu.run());
            assertEquals(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[0]), cpu.run());
        }
    }

    @Test
    void aThrowingGuestCrashesAndExplicitKindsNeedTheHardwareBit() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            cpu.load(g -> g.readPrivate(0, 8));
            assertEquals(ExitReason.SYSTEM_EVENT_CRASH, assertInstanceOf(VcpuExit.SystemEvent.class, cpu.run()).type());
            assertInstanceOf(IllegalStateException.class, cpu.guestFailure().orElseThrow());
            cpu.close();
            assertErrno(Errno.EBADF, cpu::run);
            assertErrno(Errno.EEXIST, () -> vm.createVcpu(0));   // the vCPU lives until the VM goes
        }
    }

    @Test
    void mapGpaRangeExitsOnlyOnceEnabled() {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.AMD_SNP);
        try (KvmVm vm = kvm.createVm(VmType.X86_SNP); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            AtomicLong before = new AtomicLong();
            AtomicLong after = new AtomicLong();
            AtomicLong other = new AtomicLong();
            cpu.load(g -> {
                before.set(g.mapGpaRange(0, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED));
                g.hlt();
                after.set(g.mapGpaRange(0x2000, 3, Hypercalls.MAP_GPA_RANGE_ENCRYPTED));
                other.set(g.hypercall(5, 1, 2));
            });
            assertInstanceOf(VcpuExit.Hlt.class, cpu.run());
            assertEquals(-1000, before.get());
            assertEquals(1 << 12, vm.checkExtension(KvmCap.EXIT_HYPERCALL));
            assertErrno(Errno.EINVAL, () -> vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << 3)));
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
            VcpuExit.Hypercall hc = assertInstanceOf(VcpuExit.Hypercall.class, cpu.run());
            assertEquals(Hypercalls.KVM_HC_MAP_GPA_RANGE, hc.nr());
            assertArrayEquals(new long[] {0x2000, 3, Hypercalls.MAP_GPA_RANGE_ENCRYPTED, 0, 0, 0}, hc.args());
            cpu.completeHypercall(1234);
            assertErrno(Errno.EINVAL, cpu::run);             // SNP passes only 0, EINVAL, EAGAIN on
            cpu.completeHypercall(Errno.EAGAIN);
            assertEquals(ExitReason.SYSTEM_EVENT_SHUTDOWN, assertInstanceOf(VcpuExit.SystemEvent.class, cpu.run()).type());
            assertEquals(Errno.EAGAIN, after.get());
            assertEquals(-1000, other.get());
        }
    }

    @Test
    void snpImplicitConversionInLegacyModeLosesContent() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.AMD_SNP);
        try (KvmVm vm = kvm.createVm(VmType.X86_SNP); GuestMemfd g = vm.createGuestMemfd(4L * P, 0);
             HostMemfd shared = kvm.memfdCreate("shared", 4L * P); HostMapping sm = shared.mmap(0, 4L * P, true);
             SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            long gpa = 1L << 20;
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, gpa, 4L * P, sm.address(), g, 0));
            vm.setMemoryAttributes(MemoryAttributes.of(gpa, 4L * P, PRIV));
            sm.writeLong(P, 0x5151);
            AtomicLong sharedSeen = new AtomicLong();
            AtomicLong privateSeen = new AtomicLong();
            AtomicLong validatedAgain = new AtomicLong(-1);
            cpu.load(c -> {
                c.pvalidate(gpa + P, P, true);
                c.writeLong(gpa + P, 0xabcd);            // plain access = private: goes to guest_memfd
                sharedSeen.set(c.readShared(gpa + P, 8)[0] & 0xff);
                validatedAgain.set(c.pvalidate(gpa + P, P, true));
                privateSeen.set(c.readLong(gpa + P));
            });
            VcpuExit.MemoryFault f = assertInstanceOf(VcpuExit.MemoryFault.class, cpu.run());
            assertEquals(new VcpuExit.MemoryFault(0, gpa + P, P, Errno.EFAULT), f);
            assertEquals(0x5151, sm.readLong(P));           // host side untouched by the private write
            vm.setMemoryAttributes(MemoryAttributes.of(gpa + P, P, 0));
            g.punchHole(P, P);                              // the VMM discards the stale private side
            f = assertInstanceOf(VcpuExit.MemoryFault.class, cpu.run());
            assertTrue(f.isPrivate(), "PVALIDATE is a private access: " + f);
            assertEquals(0x51, sharedSeen.get());
            vm.setMemoryAttributes(MemoryAttributes.of(gpa + P, P, PRIV));
            assertEquals(ExitReason.SYSTEM_EVENT_SHUTDOWN, assertInstanceOf(VcpuExit.SystemEvent.class, cpu.run()).type(),
                    () -> String.valueOf(cpu.guestFailure()));
            // The discarded page came back as a new page: not validated, and the guest's key decrypts the host's zeros.
            assertEquals(0, validatedAgain.get());
            assertNotEquals(0xabcd, privateSeen.get());
            assertNotEquals(0, privateSeen.get());
        }
    }

    @Test
    void swProtectedPrivateAccessWithoutGuestMemfdFaultsInLegacyAndIsMmioInPlace() {
        for (SimProfile p : new SimProfile[] {SimProfile.K6_12, SimProfile.INPLACE}) {
            SimKvm kvm = SimKvm.create(p, SimHardware.X86);
            long flags = p == SimProfile.INPLACE ? GuestMemfdFlags.MMAP : 0;
            try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED); GuestMemfd g = vm.createGuestMemfd(2L * P, flags);
                 HostMemfd shared = kvm.memfdCreate("shared", 2L * P); HostMapping sm = shared.mmap(0, 2L * P, true);
                 SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
                UserMemoryRegion2 slot = UserMemoryRegion2.withGuestMemfd(0, 0, 2L * P, sm.address(), g, 0);
                vm.setUserMemoryRegion2(slot);
                if (p == SimProfile.INPLACE) g.setMemoryAttributes2(MemoryAttributes2.of(0, 2L * P, PRIV));
                else vm.setMemoryAttributes(MemoryAttributes.of(0, 2L * P, PRIV));
                cpu.load(c -> {
                    c.writeLong(P + 16, 42);
                    c.hlt();
                    c.readLong(P + 16);
                });
                assertInstanceOf(VcpuExit.Hlt.class, cpu.run());
                vm.setUserMemoryRegion2(slot.deleted());
                VcpuExit exit = cpu.run();
                if (p == SimProfile.INPLACE) {
                    VcpuExit.Mmio mmio = assertInstanceOf(VcpuExit.Mmio.class, exit);
                    assertEquals(P + 16, mmio.physAddr());
                } else {
                    assertEquals(new VcpuExit.MemoryFault(ExitReason.MEMORY_EXIT_FLAG_PRIVATE, P, P, Errno.EFAULT), exit);
                }
            }
        }
    }

    @Test
    void inPlaceConversionThroughMapGpaRangePreservesContent() {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);
             GuestMemfd g = vm.createGuestMemfd(4L * P, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED);
             HostMapping m = g.mmap(0, 4L * P, true); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, 4L * P, m.address(), g, 0));
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << 12));
            m.writeLong(2L * P, 77);
            AtomicLong seen = new AtomicLong();
            cpu.load(c -> {
                c.mapGpaRange(2L * P, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED);
                c.writeLong(2L * P + 8, c.readLong(2L * P) + 1);
                c.mapGpaRange(2L * P, 1, Hypercalls.MAP_GPA_RANGE_DECRYPTED);
                seen.set(c.readLong(2L * P + 8));
            });
            VcpuExit.Hypercall hc = assertInstanceOf(VcpuExit.Hypercall.class, cpu.run());
            g.setMemoryAttributes2(MemoryAttributes2.of(hc.arg(0), hc.arg(1) * P, PRIV));
            cpu.completeHypercall(0);
            hc = assertInstanceOf(VcpuExit.Hypercall.class, cpu.run());
            assertErrno(Errno.EFAULT, () -> m.readLong(2L * P + 8));
            g.setMemoryAttributes2(MemoryAttributes2.of(hc.arg(0), hc.arg(1) * P, 0));
            assertEquals(ExitReason.SYSTEM_EVENT_SHUTDOWN, assertInstanceOf(VcpuExit.SystemEvent.class, cpu.run()).type());
            assertEquals(78, seen.get());
            assertEquals(78, m.readLong(2L * P + 8));
        }
    }

    @Test
    void anUnknownUserspaceAddressFailsKvmRunWithEfault() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT); SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 2L * P, 0x10000000L));
            cpu.load(c -> c.readLong(8));
            assertErrno(Errno.EFAULT, cpu::run);
        }
    }

    @Test
    void closingTheVmStopsGuestThreads() throws Exception {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        KvmVm vm = kvm.createVm(VmType.DEFAULT);
        SimVcpu cpu = (SimVcpu) vm.createVcpu(3);
        cpu.load(c -> {
            while (true) c.hlt();
        });
        assertInstanceOf(VcpuExit.Hlt.class, cpu.run());
        vm.close();
        assertErrno(Errno.EBADF, cpu::run);
        Thread.sleep(50);
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().endsWith("-vcpu3") && t.isAlive()));
    }
}
