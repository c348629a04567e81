package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.FileStat;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/** KVM_CREATE_GUEST_MEMFD (reference §3.1; guest_memfd_test.c test_guest_memfd_flags, invalid_sizes, multiple). */
class GuestMemfdCreateTest extends KvmTargetTest {

    private List<VmCaps> gmemTypes() {
        List<VmCaps> types = allCaps().stream().filter(VmCaps::hasGuestMemfd).toList();
        org.junit.jupiter.api.Assumptions.assumeFalse(types.isEmpty(),
                () -> "KVM_CAP_GUEST_MEMFD is 0 for every VM type (" + describeTypes() + ")");
        return types;
    }

    @Test
    void eachFlagBitIsAcceptedExactlyWhenReported() {
        for (VmCaps c : gmemTypes()) {
            KvmVm vm = createVm(c.type());
            for (int bit = 0; bit < 64; bit++) {
                long flag = 1L << bit;
                String what = c.typeName() + ": KVM_CREATE_GUEST_MEMFD flags=0x" + Long.toHexString(flag)
                        + " with GUEST_MEMFD_FLAGS=0x" + Long.toHexString(c.gmemFlags());
                if ((c.gmemFlags() & flag) != 0) {
                    try (GuestMemfd gmem = vm.createGuestMemfd(page, flag)) {
                        assertEquals(flag, gmem.flags(), what);
                    }
                } else {
                    expectErrno(Errno.EINVAL, what, () -> vm.createGuestMemfd(page, flag).close());
                }
            }
        }
    }

    @Test
    void unalignedSizesAreRefused() {
        long[] sizes = {1, 2, 7, 511, 512, page / 2, page - 1, page + 1, 2 * page - 1};
        for (VmCaps c : gmemTypes()) {
            KvmVm vm = createVm(c.type());
            for (long flags : c.gmemFlagSets()) {
                for (long size : sizes) {
                    expectErrno(Errno.EINVAL, c.typeName() + ": size " + size + " flags 0x" + Long.toHexString(flags),
                            () -> vm.createGuestMemfd(size, flags).close());
                }
            }
        }
    }

    @Test
    void zeroAndNegativeSizesAreRefused() {
        for (VmCaps c : gmemTypes()) {
            KvmVm vm = createVm(c.type());
            expectErrno(Errno.EINVAL, c.typeName() + ": size 0", () -> vm.createGuestMemfd(0, 0).close());
            // The kernel reads the size as loff_t: a u64 with the top bit set is negative.
            expectErrno(Errno.EINVAL, c.typeName() + ": size -page", () -> vm.createGuestMemfd(-page, 0).close());
            expectErrno(Errno.EINVAL, c.typeName() + ": size 1<<63", () -> vm.createGuestMemfd(Long.MIN_VALUE, 0).close());
        }
    }

    @Test
    void multipleFilesHaveTheirOwnSizeAndInode() {
        VmCaps c = gmemTypes().get(0);
        KvmVm vm = createVm(c.type());
        GuestMemfd one = createGmem(vm, page, 0);
        FileStat st1 = one.fstat();
        assertEquals(page, st1.size());
        assertEquals(page, one.size());
        GuestMemfd two = createGmem(vm, 2 * page, 0);
        FileStat st2 = two.fstat();
        assertEquals(2 * page, st2.size());
        assertEquals(page, one.fstat().size(), "the first file changed size");
        assertNotEquals(st1.inode(), st2.inode(), "two guest_memfds share an inode number");
        assertEquals(page, st1.blockSize(), "st_blksize is the page size");
    }

    @Test
    void fileKeepsItsFlags() {
        for (VmCaps c : gmemTypes()) {
            KvmVm vm = createVm(c.type());
            for (long flags : c.gmemFlagSets()) {
                try (GuestMemfd gmem = vm.createGuestMemfd(4 * page, flags)) {
                    assertEquals(flags, gmem.flags(), c.typeName());
                    assertEquals(4 * page, gmem.size(), c.typeName());
                }
            }
        }
    }

    @Test
    void defaultVmCreatesGuestMemfdWithMmapAndInitShared() {
        VmCaps c = requireType(VmType.DEFAULT, x -> x.type() == VmType.DEFAULT && x.initShared(),
                "the default VM does not report GUEST_MEMFD_FLAG_INIT_SHARED (kernel before 6.18)");
        KvmVm vm = createVm(c.type());
        GuestMemfd gmem = createGmem(vm, page, c.gmemFlags());
        assertEquals(c.gmemFlags(), gmem.flags());
    }
}
