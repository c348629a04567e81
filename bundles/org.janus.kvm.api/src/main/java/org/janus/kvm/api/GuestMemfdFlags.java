package org.janus.kvm.api;

/** Flags of KVM_CREATE_GUEST_MEMFD (Linux 6.18). */
public final class GuestMemfdFlags {
    /** The guest_memfd may be mmapped; a memslot bound to it is served from it for shared faults too. */
    public static final long MMAP = 1L << 0;
    /** All memory starts shared (mappable by the host) instead of private. */
    public static final long INIT_SHARED = 1L << 1;

    private GuestMemfdFlags() {}
}
