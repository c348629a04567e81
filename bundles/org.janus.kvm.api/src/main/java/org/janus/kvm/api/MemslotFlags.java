package org.janus.kvm.api;

/** Flags of struct kvm_userspace_memory_region2. */
public final class MemslotFlags {
    public static final int LOG_DIRTY_PAGES = 1 << 0;
    public static final int READONLY = 1 << 1;
    public static final int GUEST_MEMFD = 1 << 2;

    private MemslotFlags() {}
}
