package org.janus.kvm.api;

import java.util.Arrays;

/**
 * struct kvm_memory_attributes2, the argument of KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (in-place
 * conversion mode). {@code offset} is a byte offset in the guest_memfd, not a GPA. {@code reserved} holds the
 * 11 reserved words after error_offset, all of which must be zero.
 */
public record MemoryAttributes2(long offset, long size, long attributes, long flags, long[] reserved) {
    public static final int RESERVED_WORDS = 11;

    public MemoryAttributes2 {
        if (reserved.length != RESERVED_WORDS) throw new IllegalArgumentException("reserved must have 11 words");
        reserved = reserved.clone();
    }

    public static MemoryAttributes2 of(long offset, long size, long attributes) {
        return new MemoryAttributes2(offset, size, attributes, 0, new long[RESERVED_WORDS]);
    }

    @Override public long[] reserved() { return reserved.clone(); }

    @Override public boolean equals(Object o) {
        return o instanceof MemoryAttributes2 a && a.offset == offset && a.size == size && a.attributes == attributes
                && a.flags == flags && Arrays.equals(a.reserved, reserved);
    }

    @Override public int hashCode() { return Long.hashCode(offset) * 31 + Long.hashCode(size); }

    @Override public String toString() {
        return "MemoryAttributes2[offset=0x" + Long.toHexString(offset) + ", size=0x" + Long.toHexString(size)
                + ", attributes=" + attributes + ", flags=" + flags + "]";
    }
}
