package org.janus.hostreport;

/**
 * The capabilities of one VM type, each asked with KVM_CHECK_EXTENSION on a VM of that type (the answer at
 * /dev/kvm scope is the union over all types and says nothing about a given one). The VM is closed again.
 *
 * @param type the KVM_CREATE_VM argument ({@link org.janus.kvm.api.VmType})
 * @param name {@link org.janus.kvm.api.VmType#name(long)}
 * @param createError why KVM_CREATE_VM or a check failed (the {@link org.janus.kvm.api.KvmException} message),
 *        or {@code null} when the type was probed; the capability values are 0 when it is set
 * @param guestMemfd KVM_CAP_GUEST_MEMFD
 * @param guestMemfdFlags KVM_CAP_GUEST_MEMFD_FLAGS: the KVM_CREATE_GUEST_MEMFD flags this VM accepts
 * @param memoryAttributes KVM_CAP_MEMORY_ATTRIBUTES: attributes settable VM-wide (legacy mode)
 * @param guestMemfdMemoryAttributes KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES: attributes settable per guest_memfd
 *        (in-place mode), as the provider probed it
 * @param exitHypercall KVM_CAP_EXIT_HYPERCALL: hypercalls that can exit to userspace (x86 bit 12: MAP_GPA_RANGE; arm64
 *        with pKVM bits 3 and 4: MEM_SHARE and MEM_UNSHARE)
 */
public record VmTypeReport(
        long type,
        String name,
        String createError,
        int guestMemfd,
        long guestMemfdFlags,
        long memoryAttributes,
        long guestMemfdMemoryAttributes,
        long exitHypercall) {

    /** Whether the VM could be created and probed. */
    public boolean created() {
        return createError == null;
    }
}
