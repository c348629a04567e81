package org.janus.kvm.conformance;

import static org.janus.kvm.api.FallocateMode.COLLAPSE_RANGE;
import static org.janus.kvm.api.FallocateMode.INSERT_RANGE;
import static org.janus.kvm.api.FallocateMode.KEEP_SIZE;
import static org.janus.kvm.api.FallocateMode.PUNCH_HOLE;
import static org.janus.kvm.api.FallocateMode.UNSHARE_RANGE;
import static org.janus.kvm.api.FallocateMode.ZERO_RANGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.FileStat;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmVm;
import org.junit.jupiter.api.Test;

/**
 * File operations on a guest_memfd (reference §3.2, §8; guest_memfd_test.c __test_guest_memfd), for every VM type
 * and every flag set (0, MMAP, MMAP|INIT_SHARED) that type reports.
 */
class GuestMemfdFileTest extends KvmTargetTest {

    /** One VM type with one guest_memfd flag set: the unit the selftest repeats its file tests over. */
    record Config(VmCaps caps, long flags) {
        boolean mmap() { return (flags & GuestMemfdFlags.MMAP) != 0; }
        boolean initShared() { return (flags & GuestMemfdFlags.INIT_SHARED) != 0; }
        @Override public String toString() { return caps.typeName() + " gmem flags 0x" + Long.toHexString(flags); }
    }

    /** The configurations that {@code wanted} selects; skips the test with {@code reason} when there are none. */
    private List<Config> configs(Predicate<Config> wanted, String reason) {
        List<Config> all = new ArrayList<>();
        for (VmCaps c : allCaps()) {
            if (!c.hasGuestMemfd()) continue;
            for (long flags : c.gmemFlagSets()) {
                Config config = new Config(c, flags);
                if (wanted.test(config)) all.add(config);
            }
        }
        assumeFalse(all.isEmpty(), () -> reason + " (" + describeTypes() + ")");
        return all;
    }

    private List<Config> allConfigs() { return configs(c -> true, "KVM_CAP_GUEST_MEMFD is 0 for every VM type"); }

    private GuestMemfd create(Config config, long size) {
        KvmVm vm = createVm(config.caps().type());
        return createGmem(vm, size, config.flags());
    }

    @Test
    void readAndWriteFail() {
        for (Config config : allConfigs()) {
            GuestMemfd gmem = create(config, 4 * page);
            // guest_memfd has no read/write ops and its pseudo file lacks FMODE_PREAD/PWRITE: ksys_pread64 and
            // ksys_pwrite64 answer ESPIPE (fs/read_write.c, virt/kvm/guest_memfd.c __kvm_gmem_create).
            expectErrno(Errno.ESPIPE, config + ": pread", () -> gmem.pread(0, 64));
            expectErrno(Errno.ESPIPE, config + ": pwrite", () -> gmem.pwrite(0, new byte[64]));
        }
    }

    @Test
    void fstatReportsCreationSizeAndPageBlockSize() {
        for (Config config : allConfigs()) {
            GuestMemfd gmem = create(config, 4 * page);
            FileStat st = gmem.fstat();
            assertEquals(4 * page, st.size(), config + ": st_size");
            assertEquals(page, st.blockSize(), config + ": st_blksize");
        }
    }

    @Test
    void ftruncateIsRefused() {
        for (Config config : allConfigs()) {
            GuestMemfd gmem = create(config, 4 * page);
            for (long length : new long[] {0, page, 8 * page, 4 * page}) {
                expectErrno(Errno.EINVAL, config + ": ftruncate(" + length + ")", () -> gmem.ftruncate(length));
            }
            assertEquals(4 * page, gmem.fstat().size(), config + ": size changed");
        }
    }

    @Test
    void fallocateFollowsTheKernelRules() {
        for (Config config : allConfigs()) {
            long size = 4 * page;
            GuestMemfd gmem = create(config, size);
            String c = config + ": ";
            gmem.allocate(0, size);
            expectErrno(Errno.EOPNOTSUPP, c + "fallocate without KEEP_SIZE", () -> gmem.fallocate(0, 0, page));
            expectErrno(Errno.EOPNOTSUPP, c + "PUNCH_HOLE without KEEP_SIZE", () -> gmem.fallocate(PUNCH_HOLE, 0, page));
            for (int extra : new int[] {ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE, 0x100}) {
                expectErrno(Errno.EOPNOTSUPP, c + "KEEP_SIZE|0x" + Integer.toHexString(extra),
                        () -> gmem.fallocate(KEEP_SIZE | extra, 0, page));
            }
            expectErrno(Errno.EINVAL, c + "punch at an unaligned offset", () -> gmem.punchHole(page - 1, page));
            expectErrno(Errno.EINVAL, c + "allocate at an unaligned offset", () -> gmem.allocate(1, page));
            expectErrno(Errno.EINVAL, c + "allocate beginning at the size", () -> gmem.allocate(size, page));
            expectErrno(Errno.EINVAL, c + "allocate beginning after the size", () -> gmem.allocate(size + page, page));
            expectErrno(Errno.EINVAL, c + "allocate across the end", () -> gmem.allocate(size - page, 2 * page));
            gmem.punchHole(size, page);
            gmem.punchHole(size + page, page);
            expectErrno(Errno.EINVAL, c + "punch an unaligned length", () -> gmem.punchHole(page, page - 1));
            gmem.punchHole(page, page);
            gmem.allocate(page, page);
        }
    }

    @Test
    void unalignedPunchHolesAreRefused() {
        long[][] cases = {
            {0, 1}, {0, page - 1}, {0, page + 1},
            {1, 1}, {1, page - 1}, {1, page}, {1, page + 1},
            {page, 1}, {page, page - 1}, {page, page + 1},
        };
        for (Config config : allConfigs()) {
            GuestMemfd gmem = create(config, 4 * page);
            for (long[] range : cases) {
                expectErrno(Errno.EINVAL, config + ": punch(" + range[0] + ", " + range[1] + ")",
                        () -> gmem.punchHole(range[0], range[1]));
            }
        }
    }

    @Test
    void mmapWithoutTheFlagIsNoDevice() {
        for (Config config : configs(c -> !c.mmap(), "no configuration without GUEST_MEMFD_FLAG_MMAP")) {
            GuestMemfd gmem = create(config, 4 * page);
            expectErrno(Errno.ENODEV, config + ": mmap one page", () -> gmem.mmap(0, page, true).close());
            expectErrno(Errno.ENODEV, config + ": mmap the file", () -> gmem.mmap(0, 4 * page, true).close());
        }
    }

    @Test
    void copyOnWriteMappingIsRefused() {
        for (Config config : configs(Config::mmap, "no VM type reports GUEST_MEMFD_FLAG_MMAP")) {
            GuestMemfd gmem = create(config, 4 * page);
            expectErrno(Errno.EINVAL, config + ": MAP_PRIVATE", () -> gmem.mmap(0, 4 * page, false).close());
        }
    }

    @Test
    void sharedMappingReadsWritesAndPunchZeroes() {
        for (Config config : configs(Config::initShared, "no VM type reports GUEST_MEMFD_FLAG_INIT_SHARED")) {
            long size = 4 * page;
            GuestMemfd gmem = create(config, size);
            HostMapping mem = map(gmem, 0, size);
            mem.write(0, filled((int) size, 0xaa));
            assertFilled(0xaa, mem.read(0, (int) size), config + ": read back");
            gmem.punchHole(0, page);
            assertFilled(0x00, mem.read(0, (int) page), config + ": punched page");
            assertFilled(0xaa, mem.read(page, (int) (size - page)), config + ": pages after the hole");
            mem.write(0, pageOf(0xaa));
            assertFilled(0xaa, mem.read(0, (int) size), config + ": refilled");
        }
    }

    @Test
    void accessBeyondTheFileFails() {
        for (Config config : configs(Config::initShared, "no VM type reports GUEST_MEMFD_FLAG_INIT_SHARED")) {
            long size = 4 * page;
            GuestMemfd gmem = create(config, size);
            HostMapping mem = map(gmem, 0, 4 * size);
            expectErrno(Errno.EFAULT, config + ": write across the end of the file",
                    () -> mem.write(0, filled((int) (4 * size), 0xaa)));
            assertFilled(0x00, mem.read(0, (int) size), config + ": a refused write changed bytes");
            expectErrno(Errno.EFAULT, config + ": read at the end of the file", () -> mem.read(size, 1));
            mem.write(0, filled((int) size, 0xaa));
            assertFilled(0xaa, mem.read(0, (int) size), config + ": within the file");
        }
    }

    @Test
    void privateFileRefusesHostAccess() {
        for (Config config : configs(c -> c.mmap() && !c.initShared(), "no VM type reports GUEST_MEMFD_FLAG_MMAP")) {
            long size = 4 * page;
            GuestMemfd gmem = create(config, size);
            HostMapping mem = map(gmem, 0, size);
            expectErrno(Errno.EFAULT, config + ": write to a file created private", () -> mem.write(0, pageOf(0xaa)));
            expectErrno(Errno.EFAULT, config + ": read of a file created private", () -> mem.read(0, 1));
            expectErrno(Errno.EFAULT, config + ": read of its last byte", () -> mem.read(size - 1, 1));
        }
    }

    @Test
    void mappingOutlivesTheDescriptor() {
        for (Config config : configs(Config::initShared, "no VM type reports GUEST_MEMFD_FLAG_INIT_SHARED")) {
            GuestMemfd gmem = create(config, 2 * page);
            HostMapping mem = map(gmem, 0, 2 * page);
            mem.write(page, pageOf(0x5c));
            gmem.close();
            assertFalse(gmem.isOpen());
            assertFilled(0x5c, mem.read(page, (int) page), config + ": mapping after close");
        }
    }

    @Test
    void residentPagesFollowFaultsAndPunches() {
        for (Config config : configs(Config::initShared, "no VM type reports GUEST_MEMFD_FLAG_INIT_SHARED")) {
            long size = 4 * page;
            GuestMemfd gmem = create(config, size);
            HostMapping mem = map(gmem, 0, size);
            assertEquals(0, mem.residentBytes(0, size), config + ": resident before any access");
            mem.write(0, filled((int) (2 * page), 0x71));
            assertEquals(2 * page, mem.residentBytes(0, size), config + ": resident after writing two pages");
            gmem.punchHole(0, page);
            assertEquals(page, mem.residentBytes(0, size), config + ": resident after punching one");
            gmem.allocate(0, size);
            mem.read(2 * page, (int) page);
            assertEquals(2 * page, mem.residentBytes(page, 2 * page), config + ": pages 1 and 2 after reading page 2");
        }
    }

    @Test
    void guestMemfdReportsNoBlocks() {
        // Measured on Linux 6.18: guest_memfd keeps no i_blocks accounting of its page cache, so st_blocks stays 0
        // through allocation, faults and punches. Allocation is observable only through resident pages.
        for (Config config : allConfigs()) {
            long size = 4 * page;
            GuestMemfd gmem = create(config, size);
            assertEquals(0, gmem.fstat().blocks(), config + ": st_blocks of a new file");
            gmem.allocate(0, size);
            assertEquals(0, gmem.fstat().blocks(), config + ": st_blocks after fallocate");
            if (config.initShared()) {
                map(gmem, 0, size).write(0, pageOf(0x71));
                assertEquals(0, gmem.fstat().blocks(), config + ": st_blocks after a host write");
            }
            gmem.punchHole(0, size);
            assertEquals(0, gmem.fstat().blocks(), config + ": st_blocks after a punch");
        }
    }

    @Test
    void memfdBlocksFollowAllocation() {
        // The shared side of legacy RAM is an ordinary memfd (shmem), whose st_blocks does count its pages.
        HostMemfd memfd = createMemfd(4 * page);
        assertEquals(0, memfd.fstat().blocks());
        memfd.allocate(0, 2 * page);
        assertEquals(2 * page, memfd.fstat().allocatedBytes(), "after fallocate of two pages");
        memfd.punchHole(0, page);
        assertEquals(page, memfd.fstat().allocatedBytes(), "after punching one");
        HostMapping mem = map(memfd, 0, 4 * page);
        mem.write(3 * page, pageOf(1));
        assertEquals(2 * page, memfd.fstat().allocatedBytes(), "after writing another through a mapping");
        assertEquals(page, mem.residentBytes(3 * page, page), "the written page is resident");
    }

    @Test
    void closedFileIsBadDescriptor() {
        for (Config config : allConfigs()) {
            GuestMemfd gmem = create(config, 4 * page);
            gmem.close();
            gmem.close();
            assertFalse(gmem.isOpen());
            expectErrno(Errno.EBADF, config + ": allocate", () -> gmem.allocate(0, page));
            expectErrno(Errno.EBADF, config + ": punch", () -> gmem.punchHole(0, page));
            expectErrno(Errno.EBADF, config + ": fstat", gmem::fstat);
            expectErrno(Errno.EBADF, config + ": mmap", () -> gmem.mmap(0, page, true).close());
        }
    }

    @Test
    void fileOutlivesItsVm() {
        // private_mem_conversions_test.c: the guest_memfd holds a reference to its VM.
        for (Config config : allConfigs()) {
            KvmVm vm = kvm.createVm(config.caps().type());
            GuestMemfd gmem = keep(vm.createGuestMemfd(4 * page, config.flags()));
            vm.close();
            gmem.allocate(0, 4 * page);
            gmem.punchHole(0, 4 * page);
            gmem.allocate(0, 4 * page);
            assertEquals(4 * page, gmem.fstat().size(), config.toString());
        }
    }
}
