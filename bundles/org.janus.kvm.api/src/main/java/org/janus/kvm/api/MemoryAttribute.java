package org.janus.kvm.api;

/** Memory attributes of KVM_SET_MEMORY_ATTRIBUTES and KVM_SET_MEMORY_ATTRIBUTES2. */
public final class MemoryAttribute {
    /** The only attribute: the page is private to the guest. Absent means shared. */
    public static final long PRIVATE = 1L << 3;

    private MemoryAttribute() {}
}
