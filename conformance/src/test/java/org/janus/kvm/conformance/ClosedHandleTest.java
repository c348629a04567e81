package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/** Every call on a closed handle answers EBADF, as an ioctl on a closed fd does (kvm-ioctls test_faulty_vm_fd). */
class ClosedHandleTest extends KvmTargetTest {

    @Test
    void closedVm() {
        KvmVm vm = kvm.createVm(VmType.DEFAULT);
        vm.close();
        vm.close();
        expectErrno(Errno.EBADF, "KVM_CHECK_EXTENSION", () -> vm.checkExtension(KvmCap.GUEST_MEMFD));
        expectErrno(Errno.EBADF, "KVM_CHECK_EXTENSION raw", () -> vm.checkExtension(KvmCap.USER_MEMORY2.number()));
        expectErrno(Errno.EBADF, "KVM_CREATE_GUEST_MEMFD", () -> vm.createGuestMemfd(page, 0).close());
        expectErrno(Errno.EBADF, "KVM_SET_USER_MEMORY_REGION2", () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, page, 0)));
        expectErrno(Errno.EBADF, "KVM_SET_MEMORY_ATTRIBUTES",
                () -> vm.setMemoryAttributes(MemoryAttributes.of(0, page, MemoryAttribute.PRIVATE)));
        expectErrno(Errno.EBADF, "KVM_ENABLE_CAP", () -> vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << 12)));
        expectErrno(Errno.EBADF, "KVM_MEMORY_ENCRYPT_OP", vm::memoryEncryptOpProbe);
        expectErrno(Errno.EBADF, "KVM_CREATE_VCPU", () -> vm.createVcpu(0).close());
    }

    @Test
    void closedVcpu() {
        KvmVm vm = createVm(VmType.DEFAULT);
        KvmVcpu vcpu = vm.createVcpu(0);
        vcpu.close();
        vcpu.close();
        expectErrno(Errno.EBADF, "KVM_RUN", vcpu::run);
        if (isX86()) {
            expectErrno(Errno.EBADF, "KVM_GET_REGS", vcpu::getRegs);
            expectErrno(Errno.EBADF, "KVM_GET_SREGS", vcpu::getSregs);
        }
        // KVM keeps a vCPU until its VM is destroyed, so closing the fd does not free the id.
        expectErrno(Errno.EEXIST, "KVM_CREATE_VCPU(0) after closing vCPU 0", () -> vm.createVcpu(0).close());
    }

    @Test
    void closedGuestMemfd() {
        VmCaps c = requireType(VmType.DEFAULT, VmCaps::hasGuestMemfd, "KVM_CAP_GUEST_MEMFD is 0 for every VM type");
        KvmVm vm = createVm(c.type());
        GuestMemfd gmem = vm.createGuestMemfd(4 * page, 0);
        gmem.close();
        expectErrno(Errno.EBADF, "KVM_SET_MEMORY_ATTRIBUTES2",
                () -> gmem.setMemoryAttributes2(MemoryAttributes2.of(0, page, MemoryAttribute.PRIVATE)));
        expectErrno(Errno.EBADF, "ftruncate", () -> gmem.ftruncate(page));
        expectErrno(Errno.EBADF, "pread", () -> gmem.pread(0, 1));
        expectErrno(Errno.EBADF, "pwrite", () -> gmem.pwrite(0, new byte[1]));
        assumeTrue(c.hasUserMemory2(), "KVM_CAP_USER_MEMORY2 is 0: cannot bind");
        expectErrno(Errno.EBADF, "bind as memslot",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(1, 0x1_0000_0000L, 4 * page, 0, gmem, 0)));
    }
}
