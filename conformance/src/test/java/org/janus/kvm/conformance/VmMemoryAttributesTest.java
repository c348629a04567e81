package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/** The VM-wide KVM_SET_MEMORY_ATTRIBUTES of the legacy mode (reference §4.1, §4.3, §8). */
class VmMemoryAttributesTest extends KvmTargetTest {

    static final long GPA = 0x1_0000_0000L;

    /** KVM_CAP_MEMORY_ATTRIBUTES at system scope: 0 where the ioctl does not exist or the in-place mode replaced it. */
    private long systemAttributes() { return Integer.toUnsignedLong(kvm.checkExtension(KvmCap.MEMORY_ATTRIBUTES)); }

    @Test
    void absentWhereNoAttributesAreReported() {
        assumeTrue(systemAttributes() == 0, "KVM_CAP_MEMORY_ATTRIBUTES is 0x" + Long.toHexString(systemAttributes())
                + " at system scope: the VM-wide ioctl exists");
        // An unknown VM ioctl is ENOTTY on x86 but EINVAL on arm64 (kvm_arch_vm_ioctl's default case).
        int unknownIoctl = isX86() ? Errno.ENOTTY : Errno.EINVAL;
        for (VmCaps c : allCaps()) {
            KvmVm vm = createVm(c.type());
            expectErrno(unknownIoctl, c.typeName() + ": PRIVATE", () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, MemoryAttribute.PRIVATE)));
            expectErrno(unknownIoctl, c.typeName() + ": shared", () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, 0)));
        }
    }

    @Test
    void inPlaceModeHasNoVmWideAttributes() {
        VmCaps c = requireType(VmType.X86_SW_PROTECTED, VmCaps::inPlace, "no VM type is in the in-place mode");
        KvmVm vm = createVm(c.type());
        // arm64 (a guest_memfd-backed pKVM protected VM) never has the VM-wide ioctl: kvm_arch_vm_ioctl's EINVAL.
        expectErrno(isX86() ? Errno.ENOTTY : Errno.EINVAL, c.typeName() + ": VM-wide PRIVATE in the in-place mode",
                () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, MemoryAttribute.PRIVATE)));
    }

    @Test
    void invalidRequestsAreRefused() {
        assumeTrue(systemAttributes() != 0, "KVM_CAP_MEMORY_ATTRIBUTES is 0 at system scope: no VM-wide ioctl");
        for (VmCaps c : allCaps()) {
            KvmVm vm = createVm(c.type());
            String t = c.typeName() + ": ";
            // Attributes 0 (shared) are valid on every VM, so each request below is wrong in one field only.
            expectErrno(Errno.EINVAL, t + "flags 1", () -> vm.setMemoryAttributes(new MemoryAttributes(GPA, page, 0, 1)));
            expectErrno(Errno.EINVAL, t + "flags 1<<63", () -> vm.setMemoryAttributes(new MemoryAttributes(GPA, page, 0, Long.MIN_VALUE)));
            for (long unknown : new long[] {1, 1L << 4, 1L << 63}) {
                expectErrno(Errno.EINVAL, t + "attribute 0x" + Long.toHexString(unknown),
                        () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, unknown)));
            }
            expectErrno(Errno.EINVAL, t + "size 0", () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, 0, 0)));
            expectErrno(Errno.EINVAL, t + "address + size overflows",
                    () -> vm.setMemoryAttributes(MemoryAttributes.of(-page, 2 * page, 0)));
            expectErrno(Errno.EINVAL, t + "unaligned address", () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA + 1, page, 0)));
            expectErrno(Errno.EINVAL, t + "unaligned size", () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page + 1, 0)));
        }
    }

    @Test
    void privateNeedsAVmWithPrivateMemory() {
        assumeTrue(systemAttributes() != 0, "KVM_CAP_MEMORY_ATTRIBUTES is 0 at system scope: no VM-wide ioctl");
        VmCaps c = requireType(VmType.DEFAULT, x -> !x.legacy(), "every VM type accepts VM-wide PRIVATE");
        KvmVm vm = createVm(c.type());
        expectErrno(Errno.EINVAL, c.typeName() + ": PRIVATE where KVM_CAP_MEMORY_ATTRIBUTES=0x" + Long.toHexString(c.vmAttributes()),
                () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, MemoryAttribute.PRIVATE)));
        vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, 0));
    }

    @Test
    void legacyModeConvertsWithoutAMemslot() {
        VmCaps c = requireType(VmType.X86_SW_PROTECTED, VmCaps::legacy, "no VM type is in the legacy mode");
        KvmVm vm = createVm(c.type());
        // Attributes are tracked per GFN whether or not a memslot covers it (§4.1).
        vm.setMemoryAttributes(MemoryAttributes.of(GPA, 4 * page, MemoryAttribute.PRIVATE));
        vm.setMemoryAttributes(MemoryAttributes.of(GPA, 4 * page, MemoryAttribute.PRIVATE));
        vm.setMemoryAttributes(MemoryAttributes.of(GPA + page, page, 0));
        vm.setMemoryAttributes(MemoryAttributes.of(GPA, 4 * page, 0));
        vm.setMemoryAttributes(MemoryAttributes.of(0, 1L << 30, MemoryAttribute.PRIVATE));
    }
}
