package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/**
 * The VM ioctls a Linux guest needs besides memory: KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_IRQ_LINE,
 * KVM_SET_TSS_ADDR and KVM_SET_IDENTITY_MAP_ADDR, each with the errno kvm_arch_vm_ioctl answers in the order it checks
 * (arch/x86/kvm/x86.c; arm64: arch/arm64/kvm/arm.c, whose unknown VM ioctls answer EINVAL). One test per ioctl.
 */
class IrqchipTest extends KvmTargetTest {

    /** A GSI the PIC and the IOAPIC both route (COM1's IRQ 4). */
    static final int GSI_COM1 = 4;
    /** The highest address KVM_SET_TSS_ADDR accepts: three pages end exactly at 4 GiB. */
    static final long TSS_ADDR_MAX = 0xffffd000L;

    @Test
    void createIrqchipOnceAndOnlyBeforeVcpus() {
        if (!isX86()) {
            // arm64 creates a GICv2: ENODEV where the host's GIC cannot emulate one, else it exists once.
            KvmVm vm = createVm(VmType.DEFAULT);
            try {
                vm.createIrqchip();
            } catch (KvmException e) {
                assertEquals(Errno.name(Errno.ENODEV), Errno.name(e.errno()), "arm64 KVM_CREATE_IRQCHIP: " + e.getMessage());
                return;
            }
            expectErrno(Errno.EEXIST, "arm64 KVM_CREATE_IRQCHIP twice", vm::createIrqchip);
            return;
        }
        assertEquals(1, kvm.checkExtension(KvmCap.IRQCHIP), "KVM_CAP_IRQCHIP on x86");
        KvmVm vm = createVm(VmType.DEFAULT);
        vm.createIrqchip();
        expectErrno(Errno.EEXIST, "KVM_CREATE_IRQCHIP twice", vm::createIrqchip);
        createVcpu(vm, 0);
        expectErrno(Errno.EEXIST, "KVM_CREATE_IRQCHIP twice, vCPUs created: EEXIST is checked first", vm::createIrqchip);

        KvmVm late = createVm(VmType.DEFAULT);
        createVcpu(late, 0);
        expectErrno(Errno.EINVAL, "KVM_CREATE_IRQCHIP after KVM_CREATE_VCPU", late::createIrqchip);
    }

    @Test
    void aTdHasNoFullInKernelIrqchip() {
        assumeTrue(isX86() && (vmTypesMask() & (1L << VmType.X86_TDX)) != 0, "needs KVM_X86_TDX_VM ("
                + describeTypes() + ")");
        KvmVm td = createVm(VmType.X86_TDX);
        expectErrno(Errno.ENOTTY, "KVM_CREATE_IRQCHIP on a TD (protected EOIs)", td::createIrqchip);
        expectErrno(Errno.ENOENT, "KVM_CREATE_PIT2 on a TD, which has no in-kernel PIC", () -> td.createPit2(0));
        expectErrno(Errno.ENXIO, "KVM_IRQ_LINE on a TD without an irqchip", () -> td.irqLine(GSI_COM1, true));
    }

    @Test
    void createPit2NeedsTheInKernelPicAndExistsOnce() {
        KvmVm vm = createVm(VmType.DEFAULT);
        if (!isX86()) {
            expectErrno(Errno.EINVAL, "KVM_CREATE_PIT2 on arm64", () -> vm.createPit2(KvmVm.PIT_SPEAKER_DUMMY));
            return;
        }
        assertEquals(1, vm.checkExtension(KvmCap.PIT2), "KVM_CAP_PIT2 on x86");
        expectErrno(Errno.ENOENT, "KVM_CREATE_PIT2 before KVM_CREATE_IRQCHIP", () -> vm.createPit2(KvmVm.PIT_SPEAKER_DUMMY));
        vm.createIrqchip();
        vm.createPit2(KvmVm.PIT_SPEAKER_DUMMY);
        expectErrno(Errno.EEXIST, "KVM_CREATE_PIT2 twice", () -> vm.createPit2(KvmVm.PIT_SPEAKER_DUMMY));

        KvmVm withSpeaker = createVm(VmType.DEFAULT);
        withSpeaker.createIrqchip();
        withSpeaker.createPit2(0);
    }

    @Test
    void irqLineNeedsAnIrqchipAndTakesAnyGsi() {
        KvmVm vm = createVm(VmType.DEFAULT);
        if (!isX86()) {
            // KVM_ARM_IRQ_TYPE_SPI (1 << 24), number 32: the first SPI, which needs a VGIC.
            expectErrno(Errno.ENXIO, "arm64 KVM_IRQ_LINE(SPI 32) without a VGIC", () -> vm.irqLine((1 << 24) | 32, true));
            // KVM_ARM_IRQ_TYPE_CPU, vCPU 0, number 2: neither IRQ (0) nor FIQ (1).
            createVcpu(vm, 0);
            expectErrno(Errno.EINVAL, "arm64 KVM_IRQ_LINE(CPU line 2)", () -> vm.irqLine(2, true));
            return;
        }
        expectErrno(Errno.ENXIO, "KVM_IRQ_LINE without KVM_CREATE_IRQCHIP", () -> vm.irqLine(GSI_COM1, true));
        vm.createIrqchip();
        createVcpu(vm, 0);
        vm.irqLine(GSI_COM1, true);
        vm.irqLine(GSI_COM1, false);
        vm.irqLine(GSI_COM1, false);
        // GSI 23, the last pin of the default routing, and 1000, which has no route: both accepted.
        vm.irqLine(23, true);
        vm.irqLine(23, false);
        vm.irqLine(1000, true);
    }

    @Test
    void setTssAddrTakesThreePagesBelow4GiB() {
        KvmVm vm = createVm(VmType.DEFAULT);
        if (!isX86()) {
            expectErrno(Errno.EINVAL, "KVM_SET_TSS_ADDR on arm64", () -> vm.setTssAddr(0xfffbd000L));
            return;
        }
        assertEquals(1, vm.checkExtension(KvmCap.SET_TSS_ADDR), "KVM_CAP_SET_TSS_ADDR on x86");
        expectErrno(Errno.EINVAL, "KVM_SET_TSS_ADDR(0xffffe000), whose pages pass 4 GiB", () -> vm.setTssAddr(0xffffe000L));
        expectErrno(Errno.EINVAL, "KVM_SET_TSS_ADDR(4 GiB)", () -> vm.setTssAddr(1L << 32));
        vm.setTssAddr(0xfffbd000L);
        KvmVm edge = createVm(VmType.DEFAULT);
        edge.setTssAddr(TSS_ADDR_MAX);
    }

    @Test
    void setIdentityMapAddrOnlyBeforeVcpus() {
        KvmVm vm = createVm(VmType.DEFAULT);
        if (!isX86()) {
            expectErrno(Errno.EINVAL, "KVM_SET_IDENTITY_MAP_ADDR on arm64", () -> vm.setIdentityMapAddr(0xfeffc000L));
            return;
        }
        assertEquals(1, vm.checkExtension(KvmCap.SET_IDENTITY_MAP_ADDR), "KVM_CAP_SET_IDENTITY_MAP_ADDR on x86");
        vm.setIdentityMapAddr(0xfeffc000L);
        createVcpu(vm, 0);
        expectErrno(Errno.EINVAL, "KVM_SET_IDENTITY_MAP_ADDR after KVM_CREATE_VCPU", () -> vm.setIdentityMapAddr(0xfeffc000L));
    }
}
