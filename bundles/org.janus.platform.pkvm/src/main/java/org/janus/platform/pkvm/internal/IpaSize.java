package org.janus.platform.pkvm.internal;

import org.janus.kvm.api.VmType;

/**
 * The size of an arm64 VM's intermediate physical address (IPA) space, in bits, as KVM_CREATE_VM takes it
 * ({@code KVM_VM_TYPE_ARM_IPA_SIZE(bits)}, arch/arm64/include/uapi/asm/kvm.h). KVM accepts 32 bits up to what
 * KVM_CAP_ARM_VM_IPA_SIZE reports (kvm_init_stage2_mmu/kvm_arm_setup_stage2: anything smaller than
 * ARM64_MIN_PARANGE_BITS is EINVAL), and refuses a memslot that ends beyond the space with EFAULT
 * (kvm_arch_prepare_memory_region).
 *
 * @param bits 32 to 52
 */
record IpaSize(int bits) {
    /** ARM64_MIN_PARANGE_BITS: the smallest IPA size KVM_CREATE_VM accepts. */
    static final int MIN_BITS = 32;
    /** The architecture's largest (LPA2 and 64 KiB pages). */
    static final int MAX_BITS = 52;

    IpaSize {
        if (bits < MIN_BITS || bits > MAX_BITS) throw new IllegalArgumentException("an IPA size is 32 to 52 bits, not " + bits);
    }

    /**
     * The smallest IPA size that reaches {@code end}, the first address above a VM's memory map, and never less than
     * {@link #MIN_BITS}: every memslot and MMIO hole must lie below 2^bits.
     *
     * @throws IllegalArgumentException for an end no arm64 IPA space reaches
     */
    static IpaSize reaching(long end) {
        if (end < 0) throw new IllegalArgumentException("end 0x" + Long.toHexString(end) + " is negative");
        int bits = end <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(end - 1);
        if (bits > MAX_BITS) throw new IllegalArgumentException("end 0x" + Long.toHexString(end) + " needs " + bits
                + " address bits, more than arm64's " + MAX_BITS);
        return new IpaSize(Math.max(MIN_BITS, bits));
    }

    /** The first address beyond the space. */
    long end() { return 1L << bits; }

    /** KVM_CREATE_VM's machine type for a protected VM of this IPA size. */
    long protectedVmType() { return VmType.ARM_PROTECTED | (bits & VmType.ARM_IPA_SIZE_MASK); }

    @Override public String toString() { return bits + "-bit"; }
}
