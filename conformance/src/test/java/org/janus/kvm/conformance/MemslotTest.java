package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemslotFlags;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** KVM_SET_USER_MEMORY_REGION2 and the guest_memfd binding rules (reference §2.2, kvm_gmem_bind; §8). */
class MemslotTest extends KvmTargetTest {

    static final long GPA = 0x1_0000_0000L;

    VmCaps caps;
    KvmVm vm;
    /** Flags a bindable guest_memfd needs here: MMAP where offered (arm64 binds nothing else, §2.2). */
    long gmemFlags;
    HostMapping shared;

    @BeforeEach
    void createVmWithSharedMemory() {
        caps = requireType(VmType.DEFAULT, c -> c.hasGuestMemfd() && c.hasUserMemory2(),
                "no VM type reports both KVM_CAP_GUEST_MEMFD and KVM_CAP_USER_MEMORY2");
        assumeTrue(!isArm64() || caps.mmap(),
                "arm64 binds only guest_memfd created with MMAP, which this kernel does not offer (" + caps + ")");
        vm = createVm(caps.type());
        gmemFlags = caps.gmemFlags() & GuestMemfdFlags.MMAP;
        HostMemfd memfd = createMemfd(8 * page);
        shared = map(memfd, 0, 8 * page);
    }

    private UserMemoryRegion2 slot(int id, long gpa, long size, GuestMemfd gmem, long offset) {
        return UserMemoryRegion2.withGuestMemfd(id, gpa, size, shared.address(), gmem, offset);
    }

    @Test
    void bindDeleteAndRebind() {
        GuestMemfd gmem = createGmem(vm, 4 * page, gmemFlags);
        UserMemoryRegion2 region = slot(1, GPA, 4 * page, gmem, 0);
        vm.setUserMemoryRegion2(region);
        vm.setUserMemoryRegion2(region.deleted());
        vm.setUserMemoryRegion2(region);
        vm.setUserMemoryRegion2(region.deleted());
        // After deletion the range is free for another slot.
        vm.setUserMemoryRegion2(slot(2, GPA + 16 * page, 4 * page, gmem, 0));
    }

    @Test
    void plainSlotWithoutGuestMemfd() {
        UserMemoryRegion2 region = UserMemoryRegion2.plain(3, GPA, 8 * page, shared.address());
        vm.setUserMemoryRegion2(region);
        vm.setUserMemoryRegion2(region.deleted());
    }

    @Test
    void closedGuestMemfdIsBadDescriptor() {
        GuestMemfd gmem = createGmem(vm, 4 * page, gmemFlags);
        gmem.close();
        expectErrno(Errno.EBADF, "bind a closed guest_memfd", () -> vm.setUserMemoryRegion2(slot(1, GPA, 4 * page, gmem, 0)));
    }

    @Test
    void ordinaryMemfdIsNotAGuestMemfd() {
        HostMemfd memfd = createMemfd(4 * page);
        expectErrno(Errno.EINVAL, "bind a memfd as guest_memfd", () -> vm.setUserMemoryRegion2(
                new UserMemoryRegion2(1, MemslotFlags.GUEST_MEMFD, GPA, 4 * page, shared.address(), 0, memfd)));
    }

    @Test
    void anotherVmsGuestMemfdIsRefused() {
        KvmVm other = createVm(caps.type());
        GuestMemfd foreign = createGmem(other, 4 * page, gmemFlags);
        expectErrno(Errno.EINVAL, "bind another VM's guest_memfd", () -> vm.setUserMemoryRegion2(slot(1, GPA, 4 * page, foreign, 0)));
        other.setUserMemoryRegion2(slot(1, GPA, 4 * page, foreign, 0));
    }

    @Test
    void offsetMustBeAlignedAndInRange() {
        GuestMemfd gmem = createGmem(vm, 4 * page, gmemFlags);
        expectErrno(Errno.EINVAL, "unaligned guest_memfd_offset",
                () -> vm.setUserMemoryRegion2(slot(1, GPA, page, gmem, page / 2)));
        expectErrno(Errno.EINVAL, "offset + size beyond the file",
                () -> vm.setUserMemoryRegion2(slot(1, GPA, 4 * page, gmem, page)));
        expectErrno(Errno.EINVAL, "offset at the end of the file",
                () -> vm.setUserMemoryRegion2(slot(1, GPA, page, gmem, 4 * page)));
        expectErrno(Errno.EINVAL, "slot larger than the file",
                () -> vm.setUserMemoryRegion2(slot(1, GPA, 8 * page, gmem, 0)));
        vm.setUserMemoryRegion2(slot(1, GPA, 3 * page, gmem, page));
    }

    @Test
    void overlappingBindingsAreRefused() {
        GuestMemfd gmem = createGmem(vm, 4 * page, gmemFlags);
        vm.setUserMemoryRegion2(slot(1, GPA, 2 * page, gmem, 0));
        // The kernel changed its answer: EINVAL up to 6.18 (seen on 6.18.44), EEXIST on 7.x (seen on 7.3.4). No
        // capability tells the two apart, so either is conformant; what must not happen is success.
        KvmException e = assertThrows(KvmException.class, () -> vm.setUserMemoryRegion2(slot(2, GPA + 16 * page, 2 * page, gmem, page)),
                "a second slot over [page, 3 pages) of the same file");
        assertTrue(e.errno() == Errno.EINVAL || e.errno() == Errno.EEXIST, "overlapping binding: " + e.getMessage());
        vm.setUserMemoryRegion2(slot(2, GPA + 16 * page, 2 * page, gmem, 2 * page));
    }

    @Test
    void overlappingGuestPhysicalRangesAreRefused() {
        GuestMemfd gmem = createGmem(vm, 4 * page, gmemFlags);
        vm.setUserMemoryRegion2(slot(1, GPA, 2 * page, gmem, 0));
        expectErrno(Errno.EEXIST, "a second slot over the same guest physical range",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(2, GPA + page, 2 * page, shared.address())));
    }

    @Test
    void dirtyLoggingOfGuestMemfdIsRefused() {
        GuestMemfd gmem = createGmem(vm, 4 * page, gmemFlags);
        expectErrno(Errno.EINVAL, "GUEST_MEMFD | LOG_DIRTY_PAGES", () -> vm.setUserMemoryRegion2(new UserMemoryRegion2(1,
                MemslotFlags.GUEST_MEMFD | MemslotFlags.LOG_DIRTY_PAGES, GPA, 4 * page, shared.address(), 0, gmem)));
    }

    @Test
    void misalignedSlotGeometryIsRefused() {
        expectErrno(Errno.EINVAL, "unaligned guest_phys_addr",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, GPA + 1, page, shared.address())));
        expectErrno(Errno.EINVAL, "unaligned memory_size",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, GPA, page + 1, shared.address())));
        expectErrno(Errno.EINVAL, "unaligned userspace_addr",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, GPA, page, shared.address() + 1)));
    }

    @Test
    void arm64BindsOnlyMappableGuestMemfd() {
        assumeTrue(isArm64(), "the MMAP requirement for guest_memfd memslots is arm64's (kvm_arch_prepare_memory_region)");
        GuestMemfd gmem = createGmem(vm, 4 * page, 0);
        expectErrno(Errno.EINVAL, "arm64: bind a guest_memfd without MMAP", () -> vm.setUserMemoryRegion2(slot(1, GPA, 4 * page, gmem, 0)));
    }
}
