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
 *
 * <p>Private memory of SEV-SNP and TDX guests is encrypted with the guest's key, and the hardware lets the guest use
 * a private page only once the guest has taken it: {@link #pvalidate} on SEV-SNP, {@link #acceptPage} on TDX. A
 * page's contents do not survive a change of owner: the host reads the ciphertext (SNP) or zeros (TDX) of a page that
 * turned shared, and the guest reads garbage (SNP) or, once accepted, zeros (TDX) in a page that turned private,
 * whatever the host wrote there. Software-protected and pKVM guests use private pages as they are.
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

    /** {@link #pvalidate}: every page changed its Validated bit. */
    long PVALIDATE_SUCCESS = 0;
    /** {@link #pvalidate}: FAIL_INPUT, the operands are invalid (here: a GPA or size that is not 4 KiB aligned). */
    long PVALIDATE_FAIL_INPUT = 1;
    /** {@link #pvalidate}: the page's Validated bit already had the requested value (rFLAGS.CF set; Linux's value). */
    long PVALIDATE_FAIL_NOUPDATE = 255;

    /**
     * SEV-SNP PVALIDATE of each 4 KiB page of [gpa, gpa + size), in order: sets ({@code validate}) or clears the Validated
     * bit of the page's RMP entry. A private access to a page that is not validated raises #VC with error code
     * PAGE_NOT_VALIDATED ({@link GuestCpuException}); the pages the firmware put in at launch (SNP_LAUNCH_UPDATE) are
     * validated already, and every change of a page's owner (the host's conversion of it, the release of its
     * guest_memfd page) leaves it not validated. PVALIDATE is a private access: on a page whose attribute is shared it
     * first exits as a memory fault that the VMM answers by converting, and the page is then retried.
     *
     * @return {@link #PVALIDATE_SUCCESS} when every page changed; else the code of the first page that did not, the pages
     *         before it having changed: {@link #PVALIDATE_FAIL_NOUPDATE} for a page already in the requested state,
     *         {@link #PVALIDATE_FAIL_INPUT} for a range that is not 4 KiB aligned (nothing changed)
     * @throws IllegalStateException on anything but an SEV-SNP guest, where the instruction does not exist
     */
    long pvalidate(long gpa, long size, boolean validate);

    /** {@link #acceptPage}: TDX_SUCCESS. */
    long TDX_SUCCESS = 0;
    /** {@link #acceptPage}: TDX_PAGE_ALREADY_ACCEPTED, the page is mapped and was accepted (or added at build time). */
    long TDX_PAGE_ALREADY_ACCEPTED = 0x00000B0A00000000L;
    /** {@link #acceptPage}: TDX_OPERAND_INVALID, here for a GPA or size that is not 4 KiB aligned. */
    long TDX_OPERAND_INVALID = 0xC000010000000000L;

    /**
     * TDX TDG.MEM.PAGE.ACCEPT of each 4 KiB page of [gpa, gpa + size), in order. A private page KVM maps after the TD
     * was finalized (TDH.MEM.PAGE.AUG, on the first private access after a conversion to private) is PENDING until
     * the guest accepts it, and accepting fills it with zeros; a private access to a pending page stops the TD (see
     * {@link GuestCpuException}). The pages added at build time (TDH.MEM.PAGE.ADD through KVM_TDX_INIT_MEM_REGION)
     * are accepted already; a page the host converts to shared leaves the TD. The GPA is a private one: on a page whose
     * attribute is shared the accept first exits as a memory fault that the VMM answers by converting.
     *
     * @return {@link #TDX_SUCCESS} when every page was accepted; else the status of the first page that was not, the
     *         pages before it accepted: {@link #TDX_PAGE_ALREADY_ACCEPTED}, or {@link #TDX_OPERAND_INVALID} for a range
     *         that is not 4 KiB aligned (nothing accepted)
     * @throws IllegalStateException on anything but a TD, where TDCALL does not exist
     */
    long acceptPage(long gpa, long size);
}
