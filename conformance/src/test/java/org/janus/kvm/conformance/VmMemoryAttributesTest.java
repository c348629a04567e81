package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/** The VM-wide KVM_SET_MEMORY_ATTRIBUTES of the legacy mode, and what is left of it in the in-place mode (reference §4.1, §4.3, §8, §13). */
class VmMemoryAttributesTest extends KvmTargetTest {

    static final long GPA = 0x1_0000_0000L;

    /** KVM_CAP_MEMORY_ATTRIBUTES at system scope: 0 where the ioctl does not exist or the in-place mode replaced it. */
    private long systemAttributes() { return Integer.toUnsignedLong(kvm.checkExtension(KvmCap.MEMORY_ATTRIBUTES)); }

    /**
     * Whether the VM-wide ioctl is compiled in: x86 only; before the series wherever KVM_CAP_MEMORY_ATTRIBUTES reports
     * PRIVATE; with the series (§13) only in kernels built with CONFIG_KVM_VM_MEMORY_ATTRIBUTES, which is also what
     * declares kvm.gmem_in_place_conversion. In the in-place mode the capability answers 0 either way, so the build
     * shows only in sysfs.
     */
    private boolean vmWideIoctlBuilt() {
        return isX86() && ((systemAttributes() & MemoryAttribute.PRIVATE) != 0
                || kvm.hostDiagnostics().containsKey(GuestMemfdAttributesTest.MODE_PARAMETER));
    }

    private String buildDescription() {
        return "KVM_CAP_MEMORY_ATTRIBUTES=0x" + Long.toHexString(systemAttributes()) + " at system scope, "
                + GuestMemfdAttributesTest.MODE_PARAMETER + "="
                + kvm.hostDiagnostics().getOrDefault(GuestMemfdAttributesTest.MODE_PARAMETER, "(absent)");
    }

    @Test
    void absentWhereNotBuilt() {
        assumeTrue(!vmWideIoctlBuilt(), "the VM-wide ioctl is built (" + buildDescription() + ")");
        // An unknown VM ioctl is ENOTTY on x86 but EINVAL on arm64 (kvm_arch_vm_ioctl's default case), whatever the argument.
        int unknownIoctl = isX86() ? Errno.ENOTTY : Errno.EINVAL;
        for (VmCaps c : allCaps()) {
            KvmVm vm = createVm(c.type());
            assertEquals(0, c.vmAttributes(), c.typeName() + ": KVM_CAP_MEMORY_ATTRIBUTES without the ioctl");
            expectErrno(unknownIoctl, c.typeName() + ": PRIVATE", () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, MemoryAttribute.PRIVATE)));
            expectErrno(unknownIoctl, c.typeName() + ": shared", () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, 0)));
            expectErrno(unknownIoctl, c.typeName() + ": flags 1", () -> vm.setMemoryAttributes(new MemoryAttributes(GPA, page, 0, 1)));
        }
    }

    @Test
    void inPlaceModeTakesNoPrivateVmWide() {
        VmCaps c = requireType(VmType.X86_SW_PROTECTED, VmCaps::inPlace, "no VM type is in the in-place mode");
        KvmVm vm = createVm(c.type());
        assertEquals(0, c.vmAttributes(), c.typeName() + ": KVM_CAP_MEMORY_ATTRIBUTES in the in-place mode");
        assertEquals(0, systemAttributes(), "KVM_CAP_MEMORY_ATTRIBUTES at system scope in the in-place mode");
        if (!isX86()) {
            // arm64 (a guest_memfd-backed pKVM protected VM) never has the VM-wide ioctl: kvm_arch_vm_ioctl's EINVAL.
            expectErrno(Errno.EINVAL, c.typeName() + ": VM-wide PRIVATE in the in-place mode",
                    () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, MemoryAttribute.PRIVATE)));
        } else if (vmWideIoctlBuilt()) {
            // kvm_supported_vm_mem_attributes answers 0 in the in-place mode: PRIVATE is an unsupported attribute.
            expectErrno(Errno.EINVAL, c.typeName() + ": VM-wide PRIVATE in the in-place mode (" + buildDescription() + ")",
                    () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, MemoryAttribute.PRIVATE)));
            vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, 0));
        } else {
            expectErrno(Errno.ENOTTY, c.typeName() + ": VM-wide PRIVATE, kernel without the ioctl (" + buildDescription() + ")",
                    () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, MemoryAttribute.PRIVATE)));
            expectErrno(Errno.ENOTTY, c.typeName() + ": VM-wide shared, kernel without the ioctl",
                    () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, page, 0)));
        }
    }

    @Test
    void invalidRequestsAreRefused() {
        assumeTrue(vmWideIoctlBuilt(), "no VM-wide ioctl (" + buildDescription() + ")");
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
        assumeTrue(vmWideIoctlBuilt(), "no VM-wide ioctl (" + buildDescription() + ")");
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
