package org.janus.kvm.api;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** A vCPU file descriptor from KVM_CREATE_VCPU, with its mmapped kvm_run. Use it from one thread at a time. */
@ProviderType
public interface KvmVcpu extends AutoCloseable {

    int id();

    /**
     * KVM_RUN, decoded into an exit. KVM_EXIT_MEMORY_FAULT arrives as KVM_RUN returning -1 with EFAULT (or
     * EHWPOISON) and is returned as {@link VcpuExit.MemoryFault}; -1/EINTR is returned as
     * {@link VcpuExit.Interrupted}.
     *
     * @throws KvmException EFAULT or EHWPOISON that is not a memory-fault exit; EINVAL for an unanswered
     *         hypercall with an invalid return value; ENOEXEC, EPERM, ...
     */
    VcpuExit run();

    /** Sets kvm_run.immediate_exit: while set, KVM_RUN returns -1/EINTR at once. */
    void setImmediateExit(boolean immediateExit);

    /**
     * Makes a KVM_RUN in progress on another thread return {@link VcpuExit.Interrupted} soon, and the next one at once:
     * sets immediate_exit and, where the vCPU is inside KVM_RUN, interrupts it as a signal to its thread does on the
     * real kernel (which re-enters the guest after any exit it handles itself, so immediate_exit alone never reaches
     * a guest that spins). Not an ioctl: the VMM's half of stopping a vCPU, as QEMU's SIG_IPI.
     */
    default void kick() { setImmediateExit(true); }

    /**
     * Writes kvm_run.hypercall.ret for the last {@link VcpuExit.Hypercall}: 0 on success, or a positive errno
     * (EINVAL to fail it, EAGAIN to have the guest retry) that KVM passes on to the guest.
     */
    void completeHypercall(long ret);

    /** Supplies the data of the last IN ({@link VcpuExit.Io}): {@code size * count} bytes. */
    void completeIo(byte[] data);

    /** Supplies the data of the last MMIO read ({@link VcpuExit.Mmio}). */
    void completeMmio(byte[] data);

    /** KVM_GET_REGS (x86). */
    Regs getRegs();

    /** KVM_SET_REGS (x86). */
    void setRegs(Regs regs);

    /** KVM_GET_SREGS (x86). */
    Sregs getSregs();

    /** KVM_SET_SREGS (x86). */
    void setSregs(Sregs sregs);

    /**
     * KVM_SET_CPUID2 (x86).
     *
     * @throws KvmException E2BIG for too many entries; EINVAL for an inconsistent set
     */
    void setCpuid2(List<CpuidEntry> entries);

    /** KVM_ENABLE_CAP on the vCPU. */
    void enableCap(EnableCap cap);

    /**
     * KVM_PRE_FAULT_MEMORY: map [gpa, gpa+size) into the guest's page tables ahead of time.
     *
     * @return the size still to be processed (0 when done; call again otherwise)
     * @throws KvmException ENOENT for a range without a memslot; EIO; EINTR; EINVAL for misalignment or flags
     */
    long preFaultMemory(long gpa, long size);

    /**
     * KVM_MEMORY_ENCRYPT_OP with a kvm_tdx_cmd on a vCPU of a TD: KVM_TDX_INIT_VCPU (once per vCPU, after
     * KVM_TDX_INIT_VM) and KVM_TDX_INIT_MEM_REGION (after this vCPU's INIT_VCPU, before KVM_TDX_FINALIZE_VM; the
     * kernel advances the kvm_tdx_init_mem_region in {@code data} past the pages it added, also when it fails).
     *
     * @return the TDX module status written to kvm_tdx_cmd.hw_error (0 on success)
     * @throws KvmException EINVAL before INIT_VM or after FINALIZE_VM, for INIT_VCPU twice, INIT_MEM_REGION before
     *         INIT_VCPU, unknown flags, an unaligned or empty range, a shared GPA, a GPA that is not PRIVATE or has
     *         no guest_memfd, or source_addr 0 where attributes are VM-wide (EOPNOTSUPP on a kernel of the in-place
     *         series with the mode off); EEXIST for a page already added; EFAULT for an unreadable source; EINTR
     *         when a signal interrupted it (the struct says how far it got: call again); ENOTTY where the host has no
     *         TDX; EINVAL for a vCPU of a VM that is not a TD
     */
    long memoryEncryptOp(TdxCommand command);

    /** Closes the vCPU fd and unmaps kvm_run. Idempotent. */
    @Override void close();
}
