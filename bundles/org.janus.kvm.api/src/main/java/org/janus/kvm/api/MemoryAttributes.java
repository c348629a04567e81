package org.janus.kvm.api;

/** struct kvm_memory_attributes, the argument of the VM-wide KVM_SET_MEMORY_ATTRIBUTES (legacy mode). */
public record MemoryAttributes(long address, long size, long attributes, long flags) {
    public static MemoryAttributes of(long gpa, long size, long attributes) {
        return new MemoryAttributes(gpa, size, attributes, 0);
    }
}
