package org.janus.kvm.api;

/** KVM hypercall numbers and the encoding of KVM_HC_MAP_GPA_RANGE (Documentation/virt/kvm/x86/hypercalls.rst). */
public final class Hypercalls {
    /** a0 = GPA, a1 = number of 4 KiB pages, a2 = attributes (page size bits 3:0, encrypted bit 4). */
    public static final long KVM_HC_MAP_GPA_RANGE = 12;
    public static final long MAP_GPA_RANGE_PAGE_SZ_4K = 0;
    public static final long MAP_GPA_RANGE_PAGE_SZ_2M = 1;
    public static final long MAP_GPA_RANGE_PAGE_SZ_1G = 2;
    public static final long MAP_GPA_RANGE_PAGE_SZ_MASK = 0xf;
    /** Convert to private. Its absence (DECRYPTED, 0) means convert to shared. */
    public static final long MAP_GPA_RANGE_ENCRYPTED = 1L << 4;
    public static final long MAP_GPA_RANGE_DECRYPTED = 0;
    /** Bits 63:5 of a2 are reserved and must be zero. */
    public static final long MAP_GPA_RANGE_RESERVED_MASK = ~0x1fL;
    /** Bit in kvm_run.hypercall.flags. */
    public static final long EXIT_HYPERCALL_LONG_MODE = 1L << 0;
    /** What the guest sees for a hypercall KVM does not handle or userspace has not enabled (-KVM_ENOSYS). */
    public static final long KVM_ENOSYS = 1000;

    private Hypercalls() {}
}
