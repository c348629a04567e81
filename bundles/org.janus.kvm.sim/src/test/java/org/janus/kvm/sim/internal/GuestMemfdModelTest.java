package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.P;
import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.FallocateMode;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.PagePin;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;

/** Host isolation of private pages (real mprotect), real pins and EAGAIN, and the file rules of §3.2. */
class GuestMemfdModelTest {
    private static final long PRIV = MemoryAttribute.PRIVATE;
    private static final long SHARED_MMAP = GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED;

    private static SimKvm inplace() { return SimKvm.create(SimProfile.INPLACE, SimHardware.AMD_SNP); }

    @Test
    void privatePagesRefuseHostAccessInEveryMappingAndKeepTheirBytes() {
        try (KvmVm vm = inplace().createVm(VmType.X86_SNP);
             GuestMemfd g = vm.createGuestMemfd(8L * P, SHARED_MMAP);
             HostMapping a = g.mmap(0, 8L * P, true); HostMapping b = g.mmap(2L * P, 4L * P, true)) {
            a.writeLong(3L * P, 0x1234);
            g.setMemoryAttributes2(MemoryAttributes2.of(2L * P, 2L * P, PRIV));
            assertErrno(Errno.EFAULT, () -> a.readLong(3L * P));
            assertErrno(Errno.EFAULT, () -> b.readLong(P));
            // a write straddling a shared and a private page changes neither
            assertErrno(Errno.EFAULT, () -> a.write(2L * P - 4, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
            assertEquals(0, a.readLong(2L * P - 8));
            a.writeLong(4L * P, 99);                     // the neighbour stays shared
            // a mapping made while the pages are private starts without access to them
            try (HostMapping c = g.mmap(0, 8L * P, true)) {
                assertErrno(Errno.EFAULT, () -> c.readLong(2L * P));
                g.setMemoryAttributes2(MemoryAttributes2.of(2L * P, 2L * P, 0));
                assertEquals(0x1234, c.readLong(3L * P));  // content preserved across the in-place round trip
            }
            assertEquals(0x1234, b.readLong(P));
        }
    }

    @Test
    void withoutInitSharedAGuestMemfdStartsPrivate() {
        // 6.18 semantics: MMAP without INIT_SHARED faults (SIGBUS) on every host access.
        try (KvmVm vm = SimKvm.create(SimProfile.K7_3, SimHardware.X86).createVm(VmType.X86_SW_PROTECTED);
             GuestMemfd g = vm.createGuestMemfd(4L * P, GuestMemfdFlags.MMAP); HostMapping m = g.mmap(0, 4L * P, true)) {
            assertErrno(Errno.EFAULT, () -> m.read(0, 1));
        }
        // In-place: private by default, and converting makes it reachable.
        try (KvmVm vm = inplace().createVm(VmType.X86_SNP);
             GuestMemfd g = vm.createGuestMemfd(4L * P, GuestMemfdFlags.MMAP); HostMapping m = g.mmap(0, 4L * P, true)) {
            assertErrno(Errno.EFAULT, () -> m.read(P, 1));
            g.setMemoryAttributes2(MemoryAttributes2.of(P, P, 0));
            assertEquals(0, m.readLong(P));
            assertErrno(Errno.EFAULT, () -> m.read(0, 1));
        }
    }

    @Test
    void aPinnedPageBlocksConversionToPrivateWithItsOffset() {
        try (KvmVm vm = inplace().createVm(VmType.X86_SNP);
             GuestMemfd g = vm.createGuestMemfd(16L * P, SHARED_MMAP); HostMapping m = g.mmap(0, 16L * P, true)) {
            m.write(0, new byte[16 * P]);
            PagePin pin = m.pin(5L * P, 2L * P);
            KvmException e = assertErrno(Errno.EAGAIN, () -> g.setMemoryAttributes2(MemoryAttributes2.of(2L * P, 8L * P, PRIV)));
            assertEquals(5L * P, e.errorOffset());
            m.writeLong(2L * P, 1);                       // nothing before the pinned page was converted
            // the offset is clamped to the start of the range
            e = assertErrno(Errno.EAGAIN, () -> g.setMemoryAttributes2(MemoryAttributes2.of(6L * P, 4L * P, PRIV)));
            assertEquals(6L * P, e.errorOffset());
            // ranges around the pin convert; to-shared never waits
            g.setMemoryAttributes2(MemoryAttributes2.of(8L * P, 4L * P, PRIV));
            g.setMemoryAttributes2(MemoryAttributes2.of(8L * P, 4L * P, 0));
            pin.close();
            g.setMemoryAttributes2(MemoryAttributes2.of(2L * P, 8L * P, PRIV));
            // pinning a private page fails like the host access it is
            assertErrno(Errno.EFAULT, () -> m.pin(3L * P, P));
        }
    }

    @Test
    void holePunchReleasesAPinsHoldOnTheFileAndKeepsAttributes() {
        try (KvmVm vm = inplace().createVm(VmType.X86_SNP);
             GuestMemfd g = vm.createGuestMemfd(4L * P, SHARED_MMAP); HostMapping m = g.mmap(0, 4L * P, true)) {
            m.writeLong(P, 5);
            try (PagePin pin = m.pin(P, P)) {
                g.punchHole(P, P);
                g.setMemoryAttributes2(MemoryAttributes2.of(P, P, PRIV));
            }
            g.punchHole(P, P);
            assertErrno(Errno.EFAULT, () -> m.readLong(P));   // still private after the punch
            g.setMemoryAttributes2(MemoryAttributes2.of(P, P, 0));
            assertEquals(0, m.readLong(P));
        }
    }

    @Test
    void fileOperationsFollowGuestMemfdRules() {
        try (KvmVm vm = inplace().createVm(VmType.X86_SNP)) {
            GuestMemfd g = vm.createGuestMemfd(4L * P, SHARED_MMAP);
            assertEquals(4L * P, g.fstat().size());
            assertEquals(P, g.fstat().blockSize());
            assertErrno(Errno.EOPNOTSUPP, () -> g.fallocate(0, 0, P));
            assertErrno(Errno.EOPNOTSUPP, () -> g.fallocate(FallocateMode.KEEP_SIZE | FallocateMode.ZERO_RANGE, 0, P));
            assertErrno(Errno.EINVAL, () -> g.fallocate(FallocateMode.KEEP_SIZE, 1, P));
            assertErrno(Errno.EINVAL, () -> g.allocate(3L * P, 2L * P));
            g.punchHole(3L * P, 8L * P);
            try (HostMapping m = g.mmap(0, 4L * P, true)) {
                // memory is real (resident pages), yet guest_memfd reports no st_blocks
                g.allocate(0, 2L * P);
                m.writeLong(0, 1);
                m.writeLong(P, 1);
                assertEquals(2L * P, m.residentBytes(0, 4L * P));
                g.punchHole(0, P);
                assertEquals(P, m.residentBytes(0, 4L * P));
                assertEquals(0, g.fstat().blocks());
            }
            assertErrno(Errno.EINVAL, () -> g.ftruncate(8L * P));
            assertErrno(Errno.ESPIPE, () -> g.pread(0, 8));
            assertErrno(Errno.ESPIPE, () -> g.pwrite(0, new byte[8]));
            assertErrno(Errno.EINVAL, () -> g.mmap(0, P, false));
            g.close();
            assertErrno(Errno.EBADF, () -> g.allocate(0, P));
            assertErrno(Errno.EBADF, g::fstat);
            try (GuestMemfd noMmap = vm.createGuestMemfd(P, 0)) {
                assertErrno(Errno.ENODEV, () -> noMmap.mmap(0, P, true));
            }
        }
    }
}
