package org.janus.kvm.api;

import org.osgi.annotation.versioning.ProviderType;

/** A VM file descriptor from KVM_CREATE_VM. Closing it releases the VM once its vCPUs and guest_memfds are closed. */
@ProviderType
public interface KvmVm extends AutoCloseable {

    /** The type it was created with ({@link VmType}). */
    long type();

    /**
     * KVM_CHECK_EXTENSION on the VM: what this VM (type) supports. Always ask here for guest_memfd flags and
     * memory attributes. {@link KvmCap#GUEST_MEMFD_MEMORY_ATTRIBUTES} is answered by probing (see its doc).
     */
    int checkExtension(KvmCap cap);

    /** KVM_CHECK_EXTENSION on the VM with a raw capability number. */
    int checkExtension(int cap);

    /**
     * KVM_CREATE_GUEST_MEMFD.
     *
     * @param size bytes, a positive multiple of the page size; fixed for the file's life
     * @param flags {@link GuestMemfdFlags} bits the VM reports in KVM_CAP_GUEST_MEMFD_FLAGS
     * @throws KvmException EINVAL for a size of 0 or not page aligned, an unknown or unsupported flag (e.g.
     *         INIT_SHARED on a VM with private memory outside the in-place mode); ENOMEM
     */
    GuestMemfd createGuestMemfd(long size, long flags);

    /**
     * KVM_SET_USER_MEMORY_REGION2: create, change or (size 0) delete a memslot.
     * <p>The caller keeps the shared mapping at {@code userspaceAddr} alive while the slot exists.
     *
     * @throws KvmException EBADF when the guest_memfd is closed; EINVAL when the file is not a guest_memfd of
     *         this VM, its offset is not page aligned, the range exceeds the file or is bound to another slot, the
     *         flags are invalid (GUEST_MEMFD with LOG_DIRTY_PAGES), or (arm64) the guest_memfd lacks MMAP; EEXIST
     *         when the GPA range overlaps another slot; EPERM (pKVM) when changing slots after the first run
     */
    void setUserMemoryRegion2(UserMemoryRegion2 region);

    /**
     * KVM_SET_MEMORY_ATTRIBUTES: VM-wide attributes by GPA (legacy mode). No memory is freed on either side.
     *
     * @throws KvmException EINVAL for flags, unsupported attributes (PRIVATE on a VM without private memory, and
     *         on every VM in the in-place mode, where attributes live in each guest_memfd), size 0, overflow or
     *         misalignment; ENOMEM; ENOTTY on x86 where the kernel lacks the ioctl (before the in-place series
     *         without private-memory VM types; with it, built without CONFIG_KVM_VM_MEMORY_ATTRIBUTES); EINVAL on arm64,
     *         which never has it
     */
    void setMemoryAttributes(MemoryAttributes attributes);

    /**
     * KVM_ENABLE_CAP on the VM, e.g. KVM_CAP_EXIT_HYPERCALL with args[0] = 1 &lt;&lt; KVM_HC_MAP_GPA_RANGE.
     *
     * @throws KvmException EINVAL for a capability that cannot be enabled or bad arguments
     */
    void enableCap(EnableCap cap);

    /**
     * KVM_MEMORY_ENCRYPT_OP with a kvm_sev_cmd.
     *
     * @return the firmware status written to kvm_sev_cmd.error (0 on success)
     * @throws KvmException with {@link KvmException#firmwareError()}; ENOTTY on a VM without SEV; EINVAL for a
     *         command the VM type or state does not allow; EAGAIN for SNP_LAUNCH_UPDATE to retry; EBADF for a
     *         missing /dev/sev
     */
    long memoryEncryptOp(SevCommand command);

    /**
     * KVM_MEMORY_ENCRYPT_OP with a kvm_tdx_cmd, on a TDX VM: KVM_TDX_CAPABILITIES, KVM_TDX_INIT_VM (once, before any
     * vCPU exists) and KVM_TDX_FINALIZE_VM (once, after the initial memory is in). The vCPU-scope sub-commands go to
     * {@link KvmVcpu#memoryEncryptOp(TdxCommand)}.
     *
     * @return the TDX module status written to kvm_tdx_cmd.hw_error (0 on success)
     * @throws KvmException with the hw_error in {@link KvmException#firmwareError()}; ENOTTY on a VM that is not a
     *         TD; EINVAL for flags, a non-zero hw_error on input, a command out of order (INIT_VM twice, FINALIZE_VM
     *         before INIT_VM or twice, a vCPU command on the VM fd), attributes, XFAM or CPUID the TDX module does not
     *         offer; E2BIG for a CPUID array too small for the capabilities or larger than KVM takes; EFAULT for
     *         memory the kernel cannot read or write
     */
    long memoryEncryptOp(TdxCommand command);

    /**
     * KVM_MEMORY_ENCRYPT_OP with a NULL argument. What it answers is the vendor module's, not the VM's: on an AMD
     * host with SEV enabled it returns 0 for every VM type (sev_mem_enc_ioctl answers a NULL argument before it looks
     * at the VM); on an Intel host a TD reads the argument first, so NULL is EFAULT, and any other VM is ENOTTY.
     *
     * @throws KvmException ENOTTY where the host has no memory-encryption handler for this VM (no SEV, a non-TD VM
     *         on Intel); EFAULT on a TD; EINVAL on arm64, where the ioctl does not exist
     */
    void memoryEncryptOpProbe();

    /** KVM_GET_DEVICE_ATTR on the VM. */
    long getDeviceAttr(DeviceAttr attr);

    /** KVM_HAS_DEVICE_ATTR on the VM. */
    boolean hasDeviceAttr(DeviceAttr attr);

    /** kvm_pit_config.flags for {@link #createPit2(int)}: no PC speaker port (0x61) in the kernel; userspace owns it. */
    int PIT_SPEAKER_DUMMY = 1;

    /**
     * KVM_CREATE_IRQCHIP (x86): an in-kernel 8259 PIC pair and I/O APIC with the default GSI routing (GSI 0-15 to
     * both the PIC and the IOAPIC pins of the same number, 16-23 to the IOAPIC), and a local APIC in every vCPU
     * created afterwards. Call it before the first {@link #createVcpu(int)}.
     * <p>With the in-kernel local APIC, KVM resets vCPU 0's LVT LINT0 to ExtINT (kvm_lapic_reset, quirk
     * LINT0_REENABLED, on by default) and Linux programs LINT1 as NMI itself (setup_local_APIC), so a Linux boot needs
     * no KVM_SET_LAPIC; a halted vCPU then waits in the kernel for an interrupt and never exits to userspace with
     * KVM_EXIT_HLT.
     * <p>On arm64 the same ioctl creates a GICv2 (kvm_vgic_create).
     *
     * @throws KvmException EEXIST when the VM has an in-kernel irqchip already (also a split one); ENOTTY for a VM
     *         with protected EOIs (a TDX guest: KVM cannot emulate level-triggered interrupts without intercepting EOI,
     *         such VMs take only the split irqchip); EINVAL once a vCPU has been created; ENOMEM. arm64: ENXIO without
     *         a VGIC, ENODEV where the host's GIC cannot emulate a GICv2 (GICv3 without the compatibility interface),
     *         EBUSY once a vCPU has run, EEXIST for a second one
     */
    void createIrqchip();

    /**
     * KVM_CREATE_PIT2 (x86): an in-kernel i8254 PIT on ports 0x40-0x43, its channel 0 wired to GSI 0, and (without
     * {@link #PIT_SPEAKER_DUMMY}) the speaker port 0x61. Needs the in-kernel PIC: call {@link #createIrqchip()} first.
     * The kernel does not check {@code flags} beyond PIT_SPEAKER_DUMMY. With flags 0 the kernel also answers port 0x61,
     * whose bit 5 (channel 2's output) Linux polls to calibrate the TSC against the PIT; with PIT_SPEAKER_DUMMY that
     * port exits to userspace, which then has to emulate it (QEMU does).
     *
     * @param flags 0 or {@link #PIT_SPEAKER_DUMMY}
     * @throws KvmException EEXIST when the VM has a PIT already; ENOENT without the in-kernel PIC (no
     *         KVM_CREATE_IRQCHIP, or a split irqchip); ENOMEM. EINVAL on arm64, which has no such ioctl
     *         (kvm_arch_vm_ioctl's default answer there)
     */
    void createPit2(int flags);

    /**
     * KVM_IRQ_LINE: sets the level of an input of the in-kernel irqchip. On x86 {@code irq} is a GSI: 0-15 reach
     * the PIC and the IOAPIC pin of that number, 16-23 the IOAPIC. An edge-triggered device raises and lowers the
     * line ({@code true} then {@code false}); a level-triggered one holds it while it wants service. A GSI without a
     * route is accepted and changes nothing (the kernel reports that only through KVM_IRQ_LINE_STATUS).
     * <p>On arm64 {@code irq} is the kernel's encoded field (type in bits 24-27, vCPU index in 16-23 and 28-31, number
     * in 0-15; Documentation/virt/kvm/api.rst).
     *
     * @throws KvmException ENXIO without an in-kernel irqchip (x86; arm64 for SPI and PPI types, or for the CPU type
     *         with one); EINVAL on arm64 for an unknown type, a vCPU that does not exist, or a number out of range for
     *         its type
     */
    void irqLine(int irq, boolean level);

    /**
     * KVM_SET_TSS_ADDR (x86): the guest physical address of three pages KVM on Intel without unrestricted guest
     * uses for the real-mode TSS; they must lie in no memslot and no MMIO the guest uses (Janus puts them below 4 GiB
     * in the memory-map hole, e.g. 0xfffbd000, as QEMU does). AMD and Intel with unrestricted guest accept it and use
     * nothing; a TD accepts it and ignores it.
     *
     * @param address passed by value, as the kernel takes it
     * @throws KvmException EINVAL for an address above 0xffffd000 (the three pages would reach past 4 GiB), and on
     *         arm64, which has no such ioctl; on Intel without unrestricted guest, the errors of creating the private
     *         memslot (EEXIST for an overlap with a memslot)
     */
    void setTssAddr(long address);

    /**
     * KVM_SET_IDENTITY_MAP_ADDR (x86): where KVM on Intel puts the one-page identity-mapped page table for real mode
     * without unrestricted guest; like the TSS it must lie outside RAM and MMIO (QEMU's choice: 0xfeffc000, just below
     * the BIOS). AMD accepts and ignores it; a TD ignores it. Call it before the first vCPU.
     *
     * @throws KvmException EINVAL once a vCPU has been created, and on arm64, which has no such ioctl
     */
    void setIdentityMapAddr(long address);

    /**
     * KVM_CREATE_VCPU.
     *
     * @throws KvmException EEXIST for an id already in use; EINVAL for an id out of range
     */
    KvmVcpu createVcpu(int id);

    /** Closes the VM fd. Idempotent. */
    @Override void close();
}
