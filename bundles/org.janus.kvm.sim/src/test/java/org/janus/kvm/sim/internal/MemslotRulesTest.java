package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.P;
import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemslotFlags;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/** KVM_SET_USER_MEMORY_REGION2 binding and slot rules (§2.2, §7, §8). */
class MemslotRulesTest {
    @Test
    void bindingErrorsAreThoseOfKvmGmemBind() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED); KvmVm other = kvm.createVm(VmType.X86_SW_PROTECTED);
             GuestMemfd g = vm.createGuestMemfd(16L * P, 0); GuestMemfd foreign = other.createGuestMemfd(16L * P, 0);
             HostMemfd plain = kvm.memfdCreate("shared", 16L * P)) {
            GuestMemfd closed = vm.createGuestMemfd(P, 0);
            closed.close();
            assertErrno(Errno.EBADF, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, closed, 0)));
            assertErrno(Errno.EBADF, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, null, 0)));
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, plain, 0)));
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, foreign, 0)));
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, g, 1)));
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, 2L * P, 0, g, 15L * P)));
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(new UserMemoryRegion2(0,
                    MemslotFlags.GUEST_MEMFD | MemslotFlags.LOG_DIRTY_PAGES, 0, P, 0, 0, g)));
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, 8L * P, 0, g, 0));
            // the same file range cannot be bound twice (7.x answers EEXIST, 6.x EINVAL); the same GPA range cannot
            // be used twice
            assertErrno(Errno.EEXIST, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(1, 1L << 30, 2L * P, 0, g, 7L * P)));
            assertErrno(Errno.EEXIST, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(1, 4L * P, 2L * P, 0, g, 8L * P)));
            // a guest_memfd slot can only be deleted
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 1L << 30, 8L * P, 0, g, 0)));
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, 8L * P, 0, g, 0).deleted());
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 0, 0)));
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(1, 1L << 30, 2L * P, 0, g, 7L * P));
        }
    }

    @Test
    void sixTwelveAllowsGuestMemfdSlotsOnlyForPrivateVmTypes() {
        SimKvm kvm = SimKvm.create(SimProfile.K6_12, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT); GuestMemfd g = vm.createGuestMemfd(P, 0)) {
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, g, 0)));
        }
    }

    @Test
    void arm64NeedsMmapAndPkvmFreezesSlotsAfterTheFirstRun() {
        SimKvm arm = SimKvm.create(SimProfile.K7_3, SimHardware.ARM64);
        try (KvmVm vm = arm.createVm(VmType.DEFAULT); GuestMemfd g = vm.createGuestMemfd(P, 0);
             GuestMemfd ok = vm.createGuestMemfd(P, GuestMemfdFlags.MMAP)) {
            assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, g, 0)));
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, ok, 0));
        }
        assertErrno(Errno.EINVAL, () -> arm.createVm(VmType.ARM_PROTECTED));
        SimKvm pkvm = SimKvm.create(SimProfile.K7_3, SimHardware.ARM64_PKVM);
        try (KvmVm vm = pkvm.createVm(VmType.ARM_PROTECTED); HostMemfd mem = pkvm.memfdCreate("ram", 4L * P);
             var map = mem.mmap(0, 4L * P, true)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 2L * P, map.address()));
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, 2L * P, 2L * P, map.address() + 2L * P));
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, 2L * P, 2L * P, 0).deleted());
            try (SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
                cpu.run();
            }
            assertErrno(Errno.EPERM, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 0, 0)));
            assertErrno(Errno.EPERM, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 8L * P, 2L * P, map.address())));
            vm.setUserMemoryRegion2(UserMemoryRegion2.plain(2, 2L * P, 2L * P, map.address() + 2L * P));
        }
    }
}
