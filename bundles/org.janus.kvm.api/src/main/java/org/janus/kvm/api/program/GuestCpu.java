package org.janus.kvm.api.program;

import org.osgi.annotation.versioning.ProviderType;

/**
 * What guest code can do on a vCPU of a modelled KVM. Every call that needs userspace (an MMIO access, port I/O, an
 * enabled hypercall, a halt, a memory fault) blocks the guest until the VMM has handled the exit that
 * {@link org.janus.kvm.api.KvmVcpu#run()} returned and runs the vCPU again.
 *
 * <p>The access kind of {@link #read}/{@link #write} follows the VM type: on a default VM every access is
 * shared; on a software-protected VM KVM derives the kind from the memory attribute; on SEV-SNP and TDX the guest
 * chooses it (C-bit, shared GPA bit) and plain accesses are private. The explicit kinds exist only where the
 * hardware has such a bit (SNP, TDX); elsewhere they throw {@link IllegalStateException}, failing the guest. A pKVM
 * protected VM accesses like a software-protected one: the hypervisor knows whether a page is shared.
 *
 * <p>What an instruction does depends on the {@link #architecture()}, as it would for machine code: x86 has port
 * I/O, HLT and KVM hypercalls; arm64 has none of them (they throw {@link IllegalStateException}) and reaches
 * devices through MMIO and firmware and the hypervisor through {@link #smccc SMCCC calls}.
 */
@ProviderType
public interface GuestCpu {

    /** The instruction set of the vCPU. */
    enum Architecture { X86_64, ARM64 }

    int vcpuId();

    /** The instruction set of this vCPU, which decides what the instructions below can do. */
    Architecture architecture();

    byte[] read(long gpa, int length);

    void write(long gpa, byte[] data);

    byte[] readPrivate(long gpa, int length);

    void writePrivate(long gpa, byte[] data);

    byte[] readShared(long gpa, int length);

    void writeShared(long gpa, byte[] data);

    /** An 8-byte little-endian {@link #read}. */
    default long readLong(long gpa) {
        byte[] b = read(gpa, 8);
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xff);
        return v;
    }

    /** An 8-byte little-endian {@link #write}. */
    default void writeLong(long gpa, long value) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (value >>> (8 * i));
        write(gpa, b);
    }

    /**
     * A KVM hypercall (vmcall/vmmcall): returns what the guest finds in rax, e.g. {@code -KVM_ENOSYS} for a
     * hypercall KVM does not handle or userspace has not enabled.
     */
    long hypercall(long nr, long... args);

    /**
     * KVM_HC_MAP_GPA_RANGE: ask the host to make [gpa, gpa + npages * 4 KiB) private (ENCRYPTED) or shared. On TDX this
     * is TDG.VP.VMCALL&lt;MapGPA&gt;: the GPA's shared bit says shared (it is set when {@code attrs} asks for shared),
     * the page-size bits have no counterpart, and KVM hands the range to the host in chunks of at most 2 MiB; the
     * TDVMCALL status comes back as 0, EINVAL, EAGAIN or -KVM_ENOSYS. ({@link #hypercall} with KVM_HC_MAP_GPA_RANGE
     * stays KVM's own hypercall, one exit as given.)
     */
    long mapGpaRange(long gpa, long npages, long attrs);

    /**
     * An SMCCC call with HVC #0 (arm64): {@code functionId} in w0, {@code args} in x1.. (missing ones are 0); returns
     * x0. KVM answers PSCI and its vendor calls itself or exits to userspace where the call needs it (PSCI
     * SYSTEM_OFF; pKVM's MEM_SHARE and MEM_UNSHARE once enabled), and answers
     * {@link org.janus.kvm.api.ArmSmccc#RET_NOT_SUPPORTED} for a function it does not know.
     *
     * @throws IllegalStateException on x86, which has no HVC
     */
    long smccc(int functionId, long... args);

    /** An OUT of {@code size} (1, 2 or 4) bytes: a KVM_EXIT_IO. x86 only. */
    void out(int port, int size, long value);

    /** An IN of {@code size} bytes: a KVM_EXIT_IO whose data the VMM supplies with completeIo. x86 only. */
    long in(int port, int size);

    /**
     * HLT: a KVM_EXIT_HLT. x86 only: arm64's WFI waits inside KVM and never reaches the VMM; a vCPU that is done
     * turns itself off with PSCI CPU_OFF, and the last one turns the system off.
     */
    void hlt();

    /** A KVM_EXIT_SYSTEM_EVENT of {@code type} with up to 16 data words (e.g. SEV termination). */
    void systemEvent(int type, long... data);
}
