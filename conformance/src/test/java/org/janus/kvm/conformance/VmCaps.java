package org.janus.kvm.conformance;

import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.VmType;

/**
 * What one VM type answers to KVM_CHECK_EXTENSION on its VM fd (reference §10 step 3). The suite chooses its cases
 * from these answers, as the kernel selftests do, never from the target's name.
 */
record VmCaps(long type, int guestMemfd, int userMemory2, long gmemFlags, long vmAttributes, long gmemAttributes,
              long exitHypercall) {

    static VmCaps probe(KvmVm vm) {
        return new VmCaps(vm.type(),
                vm.checkExtension(KvmCap.GUEST_MEMFD),
                vm.checkExtension(KvmCap.USER_MEMORY2),
                Integer.toUnsignedLong(vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS)),
                Integer.toUnsignedLong(vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES)),
                Integer.toUnsignedLong(vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES)),
                Integer.toUnsignedLong(vm.checkExtension(KvmCap.EXIT_HYPERCALL)));
    }

    boolean hasGuestMemfd() { return guestMemfd > 0; }

    boolean hasUserMemory2() { return userMemory2 > 0; }

    /** Legacy mode: PRIVATE is set with the VM-wide KVM_SET_MEMORY_ATTRIBUTES (§9.1). */
    boolean legacy() { return (vmAttributes & MemoryAttribute.PRIVATE) != 0; }

    /** In-place mode: PRIVATE is set with KVM_SET_MEMORY_ATTRIBUTES2 on each guest_memfd (§9.2). */
    boolean inPlace() { return (gmemAttributes & MemoryAttribute.PRIVATE) != 0; }

    boolean mmap() { return (gmemFlags & GuestMemfdFlags.MMAP) != 0; }

    boolean initShared() { return (gmemFlags & GuestMemfdFlags.INIT_SHARED) != 0; }

    /** The guest_memfd flag sets the selftest walks for this VM: 0, MMAP, MMAP|INIT_SHARED, as supported. */
    long[] gmemFlagSets() {
        if (initShared()) return new long[] {0, GuestMemfdFlags.MMAP, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED};
        if (mmap()) return new long[] {0, GuestMemfdFlags.MMAP};
        return new long[] {0};
    }

    String typeName() { return VmType.name(type) + " (type 0x" + Long.toHexString(type) + ")"; }

    @Override public String toString() {
        return typeName() + ": GUEST_MEMFD=" + guestMemfd + " USER_MEMORY2=" + userMemory2 + " GUEST_MEMFD_FLAGS=0x"
                + Long.toHexString(gmemFlags) + " MEMORY_ATTRIBUTES=0x" + Long.toHexString(vmAttributes)
                + " GUEST_MEMFD_MEMORY_ATTRIBUTES=0x" + Long.toHexString(gmemAttributes) + " EXIT_HYPERCALL=0x"
                + Long.toHexString(exitHypercall);
    }
}
