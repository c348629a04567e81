package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.PagePin;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/**
 * KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd: the in-place conversion series (reference §4.3–4.5, §8, §9.2;
 * guest_memfd_conversions_test.c). Content assertions run on the software-protected VM only, where KVM preserves
 * contents exactly; SNP/TDX firmware may alter them (§4.4).
 */
class GuestMemfdAttributesTest extends KvmTargetTest {

    static final long PRIVATE = MemoryAttribute.PRIVATE;
    static final long BOTH = GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED;
    /**
     * The host diagnostic of /sys/module/kvm/parameters/gmem_in_place_conversion, present where the file exists: as
     * applied (§13) only in kernels built with CONFIG_KVM_VM_MEMORY_ATTRIBUTES.
     */
    static final String MODE_PARAMETER = "kvm.parameter.gmem_in_place_conversion";

    private static MemoryAttributes2 attrs(long offset, long size, long attributes) {
        return MemoryAttributes2.of(offset, size, attributes);
    }

    private VmCaps inPlaceType() {
        return requireType(VmType.X86_SW_PROTECTED, VmCaps::inPlace,
                "no VM type reports PRIVATE in KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES (no in-place mode)");
    }

    /** The in-place type whose conversions preserve contents exactly: the software-protected VM. */
    private VmCaps contentPreservingType() {
        VmCaps c = inPlaceType();
        assumeTrue(c.type() == VmType.X86_SW_PROTECTED, "contents across a conversion are specified only for the "
                + "software-protected VM, which this host does not offer in the in-place mode (" + describeTypes() + ")");
        return c;
    }

    /** A guest_memfd of {@code pages} pages, all shared, mapped whole. */
    private record SharedFile(GuestMemfd gmem, HostMapping mem) {}

    private SharedFile sharedFile(VmCaps c, int pages) {
        assumeTrue(c.initShared(), c + ": no GUEST_MEMFD_FLAG_INIT_SHARED");
        KvmVm vm = createVm(c.type());
        GuestMemfd gmem = createGmem(vm, pages * page, BOTH);
        return new SharedFile(gmem, map(gmem, 0, pages * page));
    }

    private void assertShared(HostMapping mem, long offset, int expected, String what) {
        assertFilled(expected, mem.read(offset, (int) page), what);
    }

    private void assertPrivate(HostMapping mem, long offset, String what) {
        expectErrno(Errno.EFAULT, what + ": host read of a private page", () -> mem.read(offset, 1));
        expectErrno(Errno.EFAULT, what + ": host write of a private page", () -> mem.write(offset, pageOf(0xee)));
    }

    @Test
    void legacyModeHasNoGuestMemfdAttributes() {
        boolean legacyHost = allCaps().stream().anyMatch(VmCaps::legacy);
        assumeTrue(legacyHost, "no VM type is in the legacy mode (" + describeTypes() + ")");
        // The mode is the host's (gmem_in_place_conversion): no VM type of a legacy host has the guest_memfd ioctl.
        for (VmCaps c : allCaps().stream().filter(VmCaps::hasGuestMemfd).toList()) {
            assertEquals(0, c.gmemAttributes(), c + ": KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES on a legacy host");
            KvmVm vm = createVm(c.type());
            GuestMemfd gmem = createGmem(vm, 4 * page, 0);
            expectErrno(Errno.ENOTTY, c.typeName() + ": KVM_SET_MEMORY_ATTRIBUTES2 in the legacy mode",
                    () -> gmem.setMemoryAttributes2(attrs(0, page, PRIVATE)));
            expectErrno(Errno.ENOTTY, c.typeName() + ": KVM_SET_MEMORY_ATTRIBUTES2 to shared in the legacy mode",
                    () -> gmem.setMemoryAttributes2(attrs(0, page, 0)));
            // ENOTTY before any argument check: the ioctl does not exist here.
            expectErrno(Errno.ENOTTY, c.typeName() + ": KVM_SET_MEMORY_ATTRIBUTES2 with flags 1",
                    () -> gmem.setMemoryAttributes2(new MemoryAttributes2(0, page, PRIVATE, 1, new long[MemoryAttributes2.RESERVED_WORDS])));
        }
    }

    /**
     * In the in-place mode a VM without private memory has the ioctl (flags are checked) but converts nothing, not even
     * to the shared its pages already are: kvm_gmem_set_attributes checks kvm_arch_has_private_mem after flags and
     * reserved words and before the attributes, the range and the no-op (§13).
     */
    @Test
    void aVmWithoutPrivateMemoryConvertsNothing() {
        assumeTrue(allCaps().stream().anyMatch(VmCaps::inPlace), "no VM type is in the in-place mode (" + describeTypes() + ")");
        List<VmCaps> withoutPrivate = allCaps().stream()
                .filter(c -> c.hasGuestMemfd() && !c.inPlace() && c.initShared()).toList();
        assumeTrue(!withoutPrivate.isEmpty(), "no VM type without private memory offers a shared guest_memfd (" + describeTypes() + ")");
        for (VmCaps c : withoutPrivate) {
            assertEquals(0, c.gmemAttributes(), c + ": KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES");
            KvmVm vm = createVm(c.type());
            GuestMemfd gmem = createGmem(vm, 2 * page, BOTH);
            HostMapping mem = map(gmem, 0, 2 * page);
            mem.write(0, pageOf(0x4d));
            String t = c.typeName() + ": ";
            expectErrno(Errno.EINVAL, t + "flags 1",
                    () -> gmem.setMemoryAttributes2(new MemoryAttributes2(0, page, 0, 1, new long[MemoryAttributes2.RESERVED_WORDS])));
            expectErrno(Errno.EINVAL, t + "shared, which the page already is", () -> gmem.setMemoryAttributes2(attrs(0, page, 0)));
            expectErrno(Errno.EINVAL, t + "PRIVATE", () -> gmem.setMemoryAttributes2(attrs(0, page, PRIVATE)));
            expectErrno(Errno.EINVAL, t + "PRIVATE across the end", () -> gmem.setMemoryAttributes2(attrs(page, 2 * page, PRIVATE)));
            assertShared(mem, 0, 0x4d, t + "page 0 after the refused requests");
        }
    }

    /**
     * A request for the attributes a range already has returns 0 before anything is checked against the pages: a
     * pinned page can stay shared, and a private page can be asked to be private again (§13: the no-op precedes the
     * reference check).
     */
    @Test
    void askingForTheCurrentAttributesSucceedsEvenWhenPinned() {
        VmCaps c = inPlaceType();
        SharedFile f = sharedFile(c, 2);
        f.mem().write(0, filled((int) (2 * page), 0x2e));
        PagePin pin = f.mem().pin(0, page);
        f.gmem().setMemoryAttributes2(attrs(0, page, 0));
        KvmException e = expectErrno(Errno.EAGAIN, "page 0 pinned, to private", () -> f.gmem().setMemoryAttributes2(attrs(0, page, PRIVATE)));
        assertEquals(0, e.errorOffset(), "error_offset of the pinned page");
        f.gmem().setMemoryAttributes2(attrs(page, page, PRIVATE));
        f.gmem().setMemoryAttributes2(attrs(page, page, PRIVATE));
        assertPrivate(f.mem(), page, "page 1 asked for PRIVATE twice");
        assertShared(f.mem(), 0, 0x2e, "pinned page 0");
        pin.close();
    }

    @Test
    void invalidRequestsAreRefusedAndChangeNothing() {
        List<VmCaps> inPlace = allCaps().stream().filter(VmCaps::inPlace).toList();
        assumeTrue(!inPlace.isEmpty(), "no VM type is in the in-place mode (" + describeTypes() + ")");
        for (VmCaps c : inPlace) {
            KvmVm vm = createVm(c.type());
            long flags = c.initShared() ? BOTH : c.gmemFlags() & GuestMemfdFlags.MMAP;
            long size = 4 * page;
            GuestMemfd gmem = createGmem(vm, size, flags);
            String t = c.typeName() + ": ";
            expectErrno(Errno.EINVAL, t + "flags 1",
                    () -> gmem.setMemoryAttributes2(new MemoryAttributes2(0, page, PRIVATE, 1, new long[MemoryAttributes2.RESERVED_WORDS])));
            for (int word = 0; word < MemoryAttributes2.RESERVED_WORDS; word++) {
                long[] reserved = new long[MemoryAttributes2.RESERVED_WORDS];
                reserved[word] = 1;
                expectErrno(Errno.EINVAL, t + "reserved[" + word + "] = 1",
                        () -> gmem.setMemoryAttributes2(new MemoryAttributes2(0, page, PRIVATE, 0, reserved)));
            }
            for (long unknown : new long[] {1, 1L << 4, 1L << 63, PRIVATE | 1}) {
                expectErrno(Errno.EINVAL, t + "attributes 0x" + Long.toHexString(unknown),
                        () -> gmem.setMemoryAttributes2(attrs(0, page, unknown)));
            }
            expectErrno(Errno.EINVAL, t + "size 0", () -> gmem.setMemoryAttributes2(attrs(0, 0, PRIVATE)));
            expectErrno(Errno.EINVAL, t + "offset + size overflows", () -> gmem.setMemoryAttributes2(attrs(-page, 2 * page, PRIVATE)));
            expectErrno(Errno.EINVAL, t + "unaligned offset", () -> gmem.setMemoryAttributes2(attrs(1, page, PRIVATE)));
            expectErrno(Errno.EINVAL, t + "unaligned size", () -> gmem.setMemoryAttributes2(attrs(0, page - 1, PRIVATE)));
            expectErrno(Errno.EINVAL, t + "offset at the end", () -> gmem.setMemoryAttributes2(attrs(size, page, PRIVATE)));
            expectErrno(Errno.EINVAL, t + "range across the end", () -> gmem.setMemoryAttributes2(attrs(size - page, 2 * page, PRIVATE)));
            if ((flags & GuestMemfdFlags.INIT_SHARED) != 0) {
                HostMapping mem = map(gmem, 0, size);
                mem.write(0, filled((int) size, 0x3c));
                expectErrno(Errno.EINVAL, t + "range across the end", () -> gmem.setMemoryAttributes2(attrs(0, size + page, PRIVATE)));
                assertFilled(0x3c, mem.read(0, (int) size), t + "a refused conversion changed the attribute or contents");
            }
        }
    }

    @Test
    void fileWithoutInitSharedStartsPrivate() {
        VmCaps c = inPlaceType();
        assumeTrue(c.mmap(), c + ": no GUEST_MEMFD_FLAG_MMAP");
        KvmVm vm = createVm(c.type());
        GuestMemfd gmem = createGmem(vm, 2 * page, GuestMemfdFlags.MMAP);
        HostMapping mem = map(gmem, 0, 2 * page);
        assertPrivate(mem, 0, "page 0");
        assertPrivate(mem, page, "page 1");
        // Conversion requests are recorded before any page exists (before_allocation_private).
        gmem.setMemoryAttributes2(attrs(0, page, 0));
        assertShared(mem, 0, 0, "page 0 after conversion to shared");
        mem.write(0, pageOf(0x41));
        assertShared(mem, 0, 0x41, "page 0 written by the host");
        assertPrivate(mem, page, "page 1, not converted");
    }

    @Test
    void fileWithInitSharedStartsShared() {
        VmCaps c = inPlaceType();
        SharedFile f = sharedFile(c, 2);
        assertShared(f.mem(), 0, 0, "fresh page 0");
        f.mem().write(page, pageOf(0x42));
        assertShared(f.mem(), page, 0x42, "page 1 written by the host");
        // before_allocation_shared: page 0 was never allocated.
        f.gmem().setMemoryAttributes2(attrs(0, page, PRIVATE));
        assertPrivate(f.mem(), 0, "page 0 converted before allocation");
        assertShared(f.mem(), page, 0x42, "page 1 untouched by the conversion of page 0");
    }

    @Test
    void refusedHostAccessNeverChangesBytes() {
        VmCaps c = contentPreservingType();
        SharedFile f = sharedFile(c, 4);
        HostMapping mem = f.mem();
        mem.write(0, filled((int) (4 * page), 0x11));
        f.gmem().setMemoryAttributes2(attrs(page, page, PRIVATE));
        assertPrivate(mem, page, "page 1");
        expectErrno(Errno.EFAULT, "a write spanning a shared and a private page", () -> mem.write(0, filled((int) (2 * page), 0x99)));
        expectErrno(Errno.EFAULT, "a read spanning a private and a shared page", () -> mem.read(page, (int) (2 * page)));
        assertShared(mem, 0, 0x11, "shared page 0 next to a refused write");
        f.gmem().setMemoryAttributes2(attrs(page, page, 0));
        assertFilled(0x11, mem.read(0, (int) (4 * page)), "contents after the round trip");
    }

    @Test
    void conversionRoundTripsPreserveContentsInPlace() {
        VmCaps c = contentPreservingType();
        int pages = 4;
        // guest_memfd_conversions_test.c indexing: each page holds its own pattern; convert one page at a time.
        for (int testPage = 0; testPage < pages; testPage++) {
            SharedFile f = sharedFile(c, pages);
            for (int i = pages - 1; i >= 0; i--) f.mem().write(i * page, pageOf(0x10 + i));
            f.gmem().setMemoryAttributes2(attrs(testPage * page, page, PRIVATE));
            for (int i = 0; i < pages; i++) {
                if (i == testPage) assertPrivate(f.mem(), i * page, "page " + i);
                else assertShared(f.mem(), i * page, 0x10 + i, "page " + i + " while page " + testPage + " is private");
            }
            f.gmem().setMemoryAttributes2(attrs(testPage * page, page, 0));
            for (int i = 0; i < pages; i++) assertShared(f.mem(), i * page, 0x10 + i, "page " + i + " after the round trip");
        }
    }

    @Test
    void sameAttributesAgainIsANoOp() {
        VmCaps c = contentPreservingType();
        SharedFile f = sharedFile(c, 2);
        f.mem().write(0, pageOf(0x77));
        f.gmem().setMemoryAttributes2(attrs(0, 2 * page, 0));
        assertShared(f.mem(), 0, 0x77, "after converting shared to shared");
        f.gmem().setMemoryAttributes2(attrs(0, page, PRIVATE));
        f.gmem().setMemoryAttributes2(attrs(0, page, PRIVATE));
        f.gmem().setMemoryAttributes2(attrs(0, 2 * page, 0));
        assertShared(f.mem(), 0, 0x77, "after private twice and back");
    }

    @Test
    void conversionToPrivateUnmapsEveryMapping() {
        VmCaps c = inPlaceType();
        SharedFile f = sharedFile(c, 2);
        HostMapping second = map(f.gmem(), 0, 2 * page);
        f.mem().write(0, pageOf(0x21));
        assertShared(second, 0, 0x21, "the second mapping sees the first one's write");
        f.gmem().setMemoryAttributes2(attrs(0, page, PRIVATE));
        assertPrivate(f.mem(), 0, "first mapping");
        assertPrivate(second, 0, "second mapping");
    }

    @Test
    void pinnedPageBlocksConversionToPrivate() {
        VmCaps c = inPlaceType();
        SharedFile f = sharedFile(c, 4);
        f.mem().write(0, filled((int) (4 * page), 0x5a));
        PagePin pin = f.mem().pin(2 * page, page);
        // The range starts at page 1, so the reported error_offset must be the file offset of page 2, not an index.
        KvmException e = expectErrno(Errno.EAGAIN, "conversion of [page 1, page 4) with page 2 pinned",
                () -> f.gmem().setMemoryAttributes2(attrs(page, 3 * page, PRIVATE)));
        assertEquals(2 * page, e.errorOffset(), "error_offset of the pinned page");
        for (int i = 0; i < 4; i++) {
            assertShared(f.mem(), i * page, 0x5a, "page " + i + " after the refused conversion");
        }
        // A pin outside the converted range does not matter.
        f.gmem().setMemoryAttributes2(attrs(3 * page, page, PRIVATE));
        assertPrivate(f.mem(), 3 * page, "page 3");
        f.gmem().setMemoryAttributes2(attrs(3 * page, page, 0));
        pin.close();
        f.gmem().setMemoryAttributes2(attrs(page, 3 * page, PRIVATE));
        for (int i = 1; i < 4; i++) assertPrivate(f.mem(), i * page, "page " + i + " after unpinning");
        assertShared(f.mem(), 0, 0x5a, "page 0, outside the range");
    }

    @Test
    void punchHoleKeepsTheAttribute() {
        VmCaps c = inPlaceType();
        SharedFile f = sharedFile(c, 2);
        f.mem().write(0, filled((int) (2 * page), 0x66));
        f.gmem().setMemoryAttributes2(attrs(0, page, PRIVATE));
        f.gmem().punchHole(0, 2 * page);
        assertPrivate(f.mem(), 0, "private page 0 after the punch");
        assertShared(f.mem(), page, 0, "shared page 1 after the punch");
        f.gmem().setMemoryAttributes2(attrs(0, page, 0));
        assertShared(f.mem(), 0, 0, "page 0 converted back after the punch");
    }
}
