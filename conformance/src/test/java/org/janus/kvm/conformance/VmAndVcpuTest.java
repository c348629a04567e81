package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/** VM ioctls other than memory (enable cap, memory-encrypt op) and vCPU basics (reference §1.1, §1.6, §5.1, §8). */
class VmAndVcpuTest extends KvmTargetTest {

    /** KVM_CAP_MAX_VCPU_ID: the first vCPU id KVM refuses. Not in {@link KvmCap}. */
    static final int CAP_MAX_VCPU_ID = 128;

    @Test
    void createVcpuAndRefuseADuplicateId() {
        KvmVm vm = createVm(VmType.DEFAULT);
        KvmVcpu vcpu = createVcpu(vm, 0);
        assertEquals(0, vcpu.id());
        assertEquals(1, createVcpu(vm, 1).id());
        expectErrno(Errno.EEXIST, "KVM_CREATE_VCPU(0) twice", () -> vm.createVcpu(0).close());
    }

    @Test
    void vcpuIdAtTheLimitIsRefused() {
        KvmVm vm = createVm(VmType.DEFAULT);
        int limit = vm.checkExtension(CAP_MAX_VCPU_ID);
        assumeTrue(limit > 0, "KVM_CAP_MAX_VCPU_ID is 0 on this VM");
        expectErrno(Errno.EINVAL, "KVM_CREATE_VCPU(" + limit + ") with KVM_CAP_MAX_VCPU_ID=" + limit,
                () -> vm.createVcpu(limit).close());
    }

    @Test
    void immediateExitInterruptsRun() {
        // arm64 refuses KVM_RUN before KVM_ARM_VCPU_INIT (ENOEXEC), which this API does not offer.
        assumeTrue(isX86(), "running a vCPU without KVM_ARM_VCPU_INIT is x86 only");
        KvmVm vm = createVm(VmType.DEFAULT);
        KvmVcpu vcpu = createVcpu(vm, 0);
        vcpu.setImmediateExit(true);
        assertInstanceOf(VcpuExit.Interrupted.class, vcpu.run());
        assertInstanceOf(VcpuExit.Interrupted.class, vcpu.run(), "immediate_exit stays set until cleared");
    }

    @Test
    void registersRoundTrip() {
        assumeTrue(isX86(), "KVM_GET_REGS/KVM_SET_REGS as struct kvm_regs are x86 only");
        KvmVm vm = createVm(VmType.DEFAULT);
        KvmVcpu vcpu = createVcpu(vm, 0);
        Regs regs = new Regs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1000, 0x2);
        vcpu.setRegs(regs);
        assertEquals(regs, vcpu.getRegs());
        Sregs sregs = vcpu.getSregs().withCs(Sregs.Segment.real(0, 0xb));
        vcpu.setSregs(sregs);
        Sregs back = vcpu.getSregs();
        assertEquals(sregs.cs().base(), back.cs().base());
        assertEquals(sregs.cs().selector(), back.cs().selector());
        assertEquals(sregs.cs().limit(), back.cs().limit());
        assertEquals(sregs.cr0(), back.cr0());
        assertEquals(sregs.efer(), back.efer());
    }

    @Test
    void memoryEncryptOpProbeFollowsSevSupport() {
        assumeTrue(isX86(), "KVM_MEMORY_ENCRYPT_OP is x86 only");
        long mask = vmTypesMask();
        long sevTypes = mask & ((1L << VmType.X86_SEV) | (1L << VmType.X86_SEV_ES) | (1L << VmType.X86_SNP));
        if (sevTypes == 0) {
            // §5.1: with SEV disabled the NULL probe answers ENOTTY, whatever the VM type (TDX refuses non-TD VMs too).
            for (long type : new long[] {VmType.DEFAULT, VmType.X86_SW_PROTECTED}) {
                if ((mask & (1L << type)) == 0) continue;
                KvmVm vm = createVm(type);
                expectErrno(Errno.ENOTTY, VmType.name(type) + ": KVM_MEMORY_ENCRYPT_OP(NULL) without SEV", vm::memoryEncryptOpProbe);
            }
        } else {
            for (long type = VmType.X86_SEV; type <= VmType.X86_SNP; type++) {
                if ((sevTypes & (1L << type)) == 0) continue;
                createVm(type).memoryEncryptOpProbe();
            }
        }
    }

    @Test
    void exitHypercallAcceptsOnlyItsBits() {
        KvmVm vm = createVm(VmType.DEFAULT);
        long valid = Integer.toUnsignedLong(vm.checkExtension(KvmCap.EXIT_HYPERCALL));
        assumeTrue(valid != 0, "KVM_CAP_EXIT_HYPERCALL is 0 on this VM");
        vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, valid));
        vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 0));
        long invalid = Long.lowestOneBit(~valid);
        expectErrno(Errno.EINVAL, "KVM_ENABLE_CAP(EXIT_HYPERCALL, 0x" + Long.toHexString(invalid) + ") with valid mask 0x"
                + Long.toHexString(valid), () -> vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, invalid)));
    }

    @Test
    void enablingAnUnknownCapabilityIsRefused() {
        KvmVm vm = createVm(VmType.DEFAULT);
        expectErrno(Errno.EINVAL, "KVM_ENABLE_CAP(0x7fff)", () -> vm.enableCap(new EnableCap(0x7fff, 0, new long[0])));
    }
}
