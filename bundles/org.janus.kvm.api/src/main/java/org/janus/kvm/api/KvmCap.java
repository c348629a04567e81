package org.janus.kvm.api;

/**
 * KVM capabilities (the KVM_CAP_* numbers of include/uapi/linux/kvm.h) that Janus probes. Use
 * {@link Kvm#checkExtension(int)} for a capability this enum lacks.
 */
public enum KvmCap {
    IRQCHIP(0),
    HLT(1),
    USER_MEMORY(3),
    SET_TSS_ADDR(4),
    EXT_CPUID(7),
    NR_VCPUS(9),
    NR_MEMSLOTS(10),
    /** KVM_CREATE_PIT2 exists (x86). */
    PIT2(33),
    /** KVM_SET_IDENTITY_MAP_ADDR exists (x86). */
    SET_IDENTITY_MAP_ADDR(37),
    MAX_VCPUS(66),
    IMMEDIATE_EXIT(136),
    ENABLE_CAP_VM(98),
    VM_ATTRIBUTES(101),
    CHECK_EXTENSION_VM(105),
    ARM_VM_IPA_SIZE(165),
    /** Bitmask of hypercalls that can exit to userspace; bit 12 is KVM_HC_MAP_GPA_RANGE. */
    EXIT_HYPERCALL(201),
    SYS_ATTRIBUTES(209),
    USER_MEMORY2(231),
    MEMORY_FAULT_INFO(232),
    /** Bitmask of attributes settable with the VM-wide KVM_SET_MEMORY_ATTRIBUTES (0 in the in-place mode). */
    MEMORY_ATTRIBUTES(233),
    GUEST_MEMFD(234),
    /** Bitmask of VM types (x86); bit n set means KVM_CREATE_VM(n) is supported. */
    VM_TYPES(235),
    PRE_FAULT_MEMORY(236),
    /** Bitmask of KVM_CREATE_GUEST_MEMFD flags valid for the VM (all flags KVM knows at system scope). */
    GUEST_MEMFD_FLAGS(244),
    /**
     * Bitmask of attributes settable with KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (the in-place
     * conversion series). Its number moved between versions of the series (249, 250, 251; 252 as applied for
     * Linux 7.4), so it has none here: providers answer it by probing the interface itself rather than trusting a
     * number.
     */
    GUEST_MEMFD_MEMORY_ATTRIBUTES(-1);

    private final int number;

    KvmCap(int number) { this.number = number; }

    /** The kernel's KVM_CAP_* number, or -1 where it is not fixed (see {@link #GUEST_MEMFD_MEMORY_ATTRIBUTES}). */
    public int number() { return number; }
}
