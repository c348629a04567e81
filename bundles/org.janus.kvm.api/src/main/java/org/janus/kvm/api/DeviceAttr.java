package org.janus.kvm.api;

/** struct kvm_device_attr without its value pointer: which attribute (group, attr) to query or set. */
public record DeviceAttr(int flags, int group, long attr) {
    /** KVM_X86_GRP_SEV and its KVM_X86_SEV_VMSA_FEATURES attribute (on /dev/kvm). */
    public static final int X86_GRP_SYSTEM = 0;
    public static final int X86_GRP_SEV = 1;
    public static final long X86_SEV_VMSA_FEATURES = 0;
    public static final long X86_XCOMP_GUEST_SUPP = 0;

    public static DeviceAttr of(int group, long attr) { return new DeviceAttr(0, group, attr); }
}
