package org.janus.kvm.sim.internal;

import java.util.function.IntPredicate;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;

/**
 * A VM's in-kernel interrupt controller and timer as far as userspace sees them: whether KVM_CREATE_IRQCHIP and
 * KVM_CREATE_PIT2 ran, the levels KVM_IRQ_LINE set, and the TSS and identity-map addresses. The checks follow
 * kvm_arch_vm_ioctl (arch/x86/kvm/x86.c; arm64: arch/arm64/kvm/arm.c and vgic-init.c) in their order, so the
 * first failing condition decides the errno.
 *
 * <p>Interrupt delivery is not modelled: the sim's guest programs take no interrupts, so a level is only recorded,
 * and a halting guest program still exits with KVM_EXIT_HLT where the kernel's in-kernel local APIC would keep the vCPU
 * waiting inside KVM_RUN. Callers hold the model lock.
 */
final class SimIrqchip {
    static final String CREATE_IRQCHIP = "KVM_CREATE_IRQCHIP";
    static final String CREATE_PIT2 = "KVM_CREATE_PIT2";
    static final String IRQ_LINE = "KVM_IRQ_LINE";
    static final String SET_TSS_ADDR = "KVM_SET_TSS_ADDR";
    static final String SET_IDENTITY_MAP_ADDR = "KVM_SET_IDENTITY_MAP_ADDR";

    /** kvm_vm_ioctl_set_tss_addr: {@code addr > (unsigned int)(-3 * PAGE_SIZE)} is refused (three pages below 4 GiB). */
    static final long TSS_ADDR_MAX = 0xffffd000L;
    /** KVM_ARM_IRQ_TYPE_*: bits 24-27 of kvm_irq_level.irq on arm64. */
    static final int ARM_IRQ_TYPE_CPU = 0;
    static final int ARM_IRQ_TYPE_SPI = 1;
    static final int ARM_IRQ_TYPE_PPI = 2;
    /** KVM_ARM_IRQ_CPU_FIQ: the highest number of the CPU type (IRQ 0, FIQ 1). */
    static final int ARM_IRQ_CPU_FIQ = 1;
    /** VGIC_NR_PRIVATE_IRQS: SGIs and PPIs; SPIs start here. */
    static final int ARM_NR_PRIVATE_IRQS = 32;
    /** VGIC_NR_SGIS: PPIs start here. */
    static final int ARM_NR_SGIS = 16;

    private final boolean x86;
    /** has_protected_eoi: a TD (tdx_vm_init sets it), whose EOIs KVM cannot intercept. */
    private final boolean protectedEoi;
    private boolean irqchip;
    private boolean pit;
    private int pitFlags;
    private long tssAddr = -1;
    private long identityMapAddr = -1;
    /** KVM_IOAPIC_NUM_PINS: the default routing covers GSI 0-23; a line beyond has no route. */
    static final int X86_ROUTED_GSIS = 24;
    /** The level last set per routed GSI (x86), as the PIC and IOAPIC pins hold it; null where never set. */
    private final Boolean[] levels = new Boolean[X86_ROUTED_GSIS];

    SimIrqchip(boolean x86, boolean protectedEoi) {
        this.x86 = x86;
        this.protectedEoi = protectedEoi;
    }

    /**
     * KVM_CREATE_IRQCHIP. x86: EEXIST, then ENOTTY for protected EOIs, then EINVAL once vCPUs exist. arm64: the modelled
     * host has a GICv3 without the GICv2 compatibility interface, so kvm_vgic_create(KVM_DEV_TYPE_ARM_VGIC_V2) answers
     * ENODEV before anything else.
     */
    void create(boolean vcpusCreated, FaultInjector faults) {
        if (!x86) throw new KvmException(CREATE_IRQCHIP, Errno.ENODEV,
                "the modelled arm64 host's GICv3 cannot emulate the GICv2 this ioctl creates (use KVM_CREATE_DEVICE)");
        if (irqchip) throw new KvmException(CREATE_IRQCHIP, Errno.EEXIST, "the VM has an in-kernel irqchip already");
        if (protectedEoi) throw new KvmException(CREATE_IRQCHIP, Errno.ENOTTY,
                "a TD has protected EOIs: no in-kernel I/O APIC, only a split irqchip");
        if (vcpusCreated) throw new KvmException(CREATE_IRQCHIP, Errno.EINVAL, "vCPUs exist already");
        faults.check(CREATE_IRQCHIP);
        irqchip = true;
    }

    /** KVM_CREATE_PIT2: arm64 has none (EINVAL); x86 EEXIST, then ENOENT without the in-kernel PIC. Flags unchecked. */
    void createPit2(int flags, FaultInjector faults) {
        if (!x86) throw new KvmException(CREATE_PIT2, Errno.EINVAL, "no KVM_CREATE_PIT2 on arm64");
        if (pit) throw new KvmException(CREATE_PIT2, Errno.EEXIST, "the VM has a PIT already");
        if (!irqchip) throw new KvmException(CREATE_PIT2, Errno.ENOENT, "no in-kernel PIC: KVM_CREATE_IRQCHIP first");
        faults.check(CREATE_PIT2);
        pit = true;
        pitFlags = flags;
    }

    /**
     * KVM_IRQ_LINE. x86 (kvm_vm_ioctl_irq_line): ENXIO without an irqchip, else accepted for any GSI. arm64: decoded as
     * type, vCPU and number; {@code vcpuExists} answers kvm_get_vcpu_by_id.
     */
    void irqLine(int irq, boolean level, IntPredicate vcpuExists) {
        if (x86) {
            if (!irqchip) throw new KvmException(IRQ_LINE, Errno.ENXIO, "no in-kernel irqchip");
            // kvm_set_irq finds no route for a GSI beyond the default table: nothing changes, the ioctl succeeds.
            if (Integer.compareUnsigned(irq, X86_ROUTED_GSIS) < 0) levels[irq] = level;
            return;
        }
        int type = (irq >>> 24) & 0xf;
        int vcpu = ((irq >>> 16) & 0xff) + ((irq >>> 28) & 0xf) * 256;
        int num = irq & 0xffff;
        switch (type) {
            case ARM_IRQ_TYPE_CPU -> {
                if (irqchip) throw new KvmException(IRQ_LINE, Errno.ENXIO, "the CPU type is for VMs without a VGIC");
                if (!vcpuExists.test(vcpu)) throw new KvmException(IRQ_LINE, Errno.EINVAL, "no vCPU " + vcpu);
                if (num > ARM_IRQ_CPU_FIQ) throw new KvmException(IRQ_LINE, Errno.EINVAL, "CPU line " + num + " is neither IRQ nor FIQ");
            }
            case ARM_IRQ_TYPE_PPI -> {
                if (!irqchip) throw new KvmException(IRQ_LINE, Errno.ENXIO, "no VGIC");
                if (!vcpuExists.test(vcpu)) throw new KvmException(IRQ_LINE, Errno.EINVAL, "no vCPU " + vcpu);
                if (num < ARM_NR_SGIS || num >= ARM_NR_PRIVATE_IRQS)
                    throw new KvmException(IRQ_LINE, Errno.EINVAL, "PPI " + num + " out of range");
            }
            case ARM_IRQ_TYPE_SPI -> {
                if (!irqchip) throw new KvmException(IRQ_LINE, Errno.ENXIO, "no VGIC");
                if (num < ARM_NR_PRIVATE_IRQS) throw new KvmException(IRQ_LINE, Errno.EINVAL, "SPI " + num + " below 32");
            }
            default -> throw new KvmException(IRQ_LINE, Errno.EINVAL, "unknown irq type " + type);
        }
    }

    /**
     * KVM_SET_TSS_ADDR: EINVAL above {@link #TSS_ADDR_MAX}; the modelled hosts (AMD, Intel with unrestricted guest, a
     * TD) then accept it without a memslot. arm64 has no such ioctl (EINVAL).
     */
    void setTssAddr(long address) {
        if (!x86) throw new KvmException(SET_TSS_ADDR, Errno.EINVAL, "no KVM_SET_TSS_ADDR on arm64");
        if (Long.compareUnsigned(address, TSS_ADDR_MAX) > 0) throw new KvmException(SET_TSS_ADDR, Errno.EINVAL,
                "0x" + Long.toHexString(address) + " is above 0x" + Long.toHexString(TSS_ADDR_MAX));
        tssAddr = address;
    }

    /** KVM_SET_IDENTITY_MAP_ADDR: EINVAL once vCPUs exist; arm64 has no such ioctl (EINVAL). */
    void setIdentityMapAddr(long address, boolean vcpusCreated) {
        if (!x86) throw new KvmException(SET_IDENTITY_MAP_ADDR, Errno.EINVAL, "no KVM_SET_IDENTITY_MAP_ADDR on arm64");
        if (vcpusCreated) throw new KvmException(SET_IDENTITY_MAP_ADDR, Errno.EINVAL, "vCPUs exist already");
        identityMapAddr = address;
    }

    boolean hasIrqchip() { return irqchip; }

    boolean hasPit() { return pit; }

    int pitFlags() { return pitFlags; }

    /** The TSS address set, or -1. */
    long tssAddr() { return tssAddr; }

    /** The identity-map address set, or -1. */
    long identityMapAddr() { return identityMapAddr; }

    /** The level last set on GSI {@code irq} (x86), or null if never set or without a route. */
    Boolean level(int irq) { return Integer.compareUnsigned(irq, X86_ROUTED_GSIS) < 0 ? levels[irq] : null; }
}
