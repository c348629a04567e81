package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.TdxCommand;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/**
 * KVM_MEMORY_ENCRYPT_OP as each host's handler answers it (reference §5.1, §6; arch/x86/kvm/x86.c, svm/sev.c,
 * vmx/main.c, vmx/tdx.c), and the TDX commands' order: CAPABILITIES at any time, INIT_VM once before any vCPU,
 * INIT_VCPU once per vCPU, INIT_MEM_REGION only after it, FINALIZE_VM once, nothing after it but CAPABILITIES.
 */
class TdxCommandsTest extends KvmTargetTest {
    private static final long TDX_BIT = 1L << VmType.X86_TDX;
    private static final long SEV_BITS = (1L << VmType.X86_SEV) | (1L << VmType.X86_SEV_ES) | (1L << VmType.X86_SNP);

    @Test
    void aTdxVmExistsOnlyWhereVmTypesOffersIt() {
        assumeTrue(isX86(), "KVM_X86_TDX_VM is an x86 machine type");
        assumeTrue((vmTypesMask() & TDX_BIT) == 0, "this host offers TDX VMs");
        // kvm_arch_init_vm: an unsupported type is EINVAL (Linux 6.12 on TDX hardware has no TDX in KVM).
        expectErrno(Errno.EINVAL, "KVM_CREATE_VM(KVM_X86_TDX_VM) with KVM_CAP_VM_TYPES=0x" + Long.toHexString(vmTypesMask()),
                () -> kvm.createVm(VmType.X86_TDX).close());
    }

    @Test
    void theNullArgumentIsTheHostsHandlersAnswer() {
        KvmVm plain = createVm(VmType.DEFAULT);
        if (!isX86()) {
            // kvm_arch_vm_ioctl of arm64 has no such ioctl: its default answer.
            expectErrno(Errno.EINVAL, "arm64: KVM_MEMORY_ENCRYPT_OP(NULL)", plain::memoryEncryptOpProbe);
            return;
        }
        long mask = vmTypesMask();
        if ((mask & SEV_BITS) != 0) {
            // sev_mem_enc_ioctl: with SEV enabled, a NULL argument is 0 before the VM is looked at.
            plain.memoryEncryptOpProbe();
            if ((mask & (1L << VmType.X86_SW_PROTECTED)) != 0) createVm(VmType.X86_SW_PROTECTED).memoryEncryptOpProbe();
        } else {
            expectErrno(Errno.ENOTTY, "a default VM without SEV", plain::memoryEncryptOpProbe);
        }
        if ((mask & TDX_BIT) != 0) {
            // vt_mem_enc_ioctl hands a TD's command to tdx_vm_ioctl, which copies it first.
            expectErrno(Errno.EFAULT, "a TD: KVM_MEMORY_ENCRYPT_OP(NULL)", createVm(VmType.X86_TDX)::memoryEncryptOpProbe);
            expectErrno(Errno.ENOTTY, "a default VM on a TDX host: a TDX command",
                    () -> plain.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0)));
        }
    }

    @Test
    void tdxCommandsComeInTheirOrder() {
        assumeTrue((vmTypesMask() & TDX_BIT) != 0, "KVM_CAP_VM_TYPES has no KVM_X86_TDX_VM");
        KvmVm td = createVm(VmType.X86_TDX);
        byte[] caps = capabilities(256);
        td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.CAPABILITIES, 0, caps));
        expectErrno(Errno.E2BIG, "KVM_TDX_CAPABILITIES with room for no CPUID leaf",
                () -> td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.CAPABILITIES, 0, capabilities(0))));
        expectErrno(Errno.EIO, "KVM_CREATE_VCPU before KVM_TDX_INIT_VM", () -> td.createVcpu(0).close());
        expectErrno(Errno.EINVAL, "KVM_TDX_FINALIZE_VM before KVM_TDX_INIT_VM",
                () -> td.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0)));
        byte[] initVm = initVm(caps);
        td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_VM, 0, initVm));
        expectErrno(Errno.EINVAL, "KVM_TDX_INIT_VM twice", () -> td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_VM, 0, initVm)));
        KvmVcpu vcpu = createVcpu(td, 0);
        byte[] region = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(8, 0).putLong(16, 1).array();
        expectErrno(Errno.EINVAL, "KVM_TDX_INIT_MEM_REGION before KVM_TDX_INIT_VCPU",
                () -> vcpu.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, 0, region)));
        vcpu.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0));
        expectErrno(Errno.EINVAL, "KVM_TDX_INIT_VCPU twice", () -> vcpu.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0)));
        expectErrno(Errno.EINVAL, "KVM_TDX_INIT_MEM_REGION with an unknown flag",
                () -> vcpu.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, 2, region)));
        expectErrno(Errno.EINVAL, "a vCPU command on the VM fd", () -> td.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0)));
        td.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0));
        expectErrno(Errno.EINVAL, "KVM_TDX_FINALIZE_VM twice", () -> td.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0)));
        expectErrno(Errno.EINVAL, "KVM_TDX_INIT_VM after FINALIZE_VM", () -> td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_VM, 0, initVm)));
        expectErrno(Errno.EINVAL, "KVM_TDX_INIT_MEM_REGION after FINALIZE_VM",
                () -> vcpu.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, 0, region)));
        assertEquals(0, td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.CAPABILITIES, 0, caps)), "CAPABILITIES at any time");
    }

    /** Makes {@code td} a TD whose vCPUs can be created: KVM_TDX_CAPABILITIES, then KVM_TDX_INIT_VM with what they offer. */
    static void initTd(KvmVm td) { initTd(td, 0); }

    /**
     * As {@link #initTd(KvmVm)}, with TD attributes (e.g. SEPT_VE_DISABLE, bit 28).
     *
     * @return whether KVM_TDX_CAPABILITIES offered all of {@code attributes}; the TD is not initialised when it did not
     */
    static boolean initTd(KvmVm td, long attributes) {
        byte[] caps = capabilities(256);
        td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.CAPABILITIES, 0, caps));
        if ((attributes & ~ByteBuffer.wrap(caps).order(ByteOrder.LITTLE_ENDIAN).getLong(0)) != 0) return false;
        byte[] init = initVm(caps);
        ByteBuffer.wrap(init).order(ByteOrder.LITTLE_ENDIAN).putLong(0, attributes);
        td.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_VM, 0, init));
        return true;
    }

    /** KVM_TDX_INIT_VCPU on each vCPU, then KVM_TDX_FINALIZE_VM: the TD runs (tdx_vcpu_pre_run wants both). */
    static void finalizeTd(KvmVm td, KvmVcpu... vcpus) {
        for (KvmVcpu v : vcpus) v.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0));
        td.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0));
    }

    private static byte[] capabilities(int entries) {
        byte[] b = new byte[2056 + entries * 40];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(2048, entries);
        return b;
    }

    /** kvm_tdx_init_vm: no attributes, the offered XFAM, every configurable leaf with no bit set but GPAW 48. */
    private static byte[] initVm(byte[] caps) {
        ByteBuffer c = ByteBuffer.wrap(caps).order(ByteOrder.LITTLE_ENDIAN);
        List<CpuidEntry> leaves = new ArrayList<>();
        for (int i = 0; i < c.getInt(2048); i++) {
            int at = 2056 + i * 40;
            leaves.add(new CpuidEntry(c.getInt(at), c.getInt(at + 4), 0, c.getInt(at) == 0x80000008 ? 48 << 16 : 0, 0, 0, 0));
        }
        ByteBuffer b = ByteBuffer.allocate(264 + leaves.size() * 40).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(8, c.getLong(8)).putInt(256, leaves.size());
        for (int i = 0; i < leaves.size(); i++) {
            CpuidEntry e = leaves.get(i);
            b.putInt(264 + i * 40, e.function()).putInt(268 + i * 40, e.index()).putInt(276 + i * 40, e.eax());
        }
        return b.array();
    }
}
