package org.janus.kvm.api;

import org.osgi.annotation.versioning.ProviderType;

/** A guest_memfd from KVM_CREATE_GUEST_MEMFD, bound to the VM that created it. */
@ProviderType
public interface GuestMemfd extends MemoryFile {

    /** The {@link GuestMemfdFlags} it was created with. */
    long flags();

    /**
     * KVM_SET_MEMORY_ATTRIBUTES2 on this guest_memfd (in-place conversion mode): make {@code [offset,
     * offset+size)} private or shared. Contents are preserved by KVM (confidential hardware may scramble them).
     * Converting to private unmaps the range from every host mapping; host access then fails.
     *
     * <p>A request for the attributes the range already has returns 0 (after the checks below, before any page is
     * looked at).
     *
     * @throws KvmException ENOTTY where attributes are VM-wide (legacy mode, or no in-place support), before the
     *         argument is read; EINVAL, in this order, for flags or reserved words not zero, a VM without private
     *         memory (whatever the attributes), an unsupported attribute, size 0, overflow, misalignment or a range
     *         beyond the file; EAGAIN, with {@link KvmException#errorOffset()}, when a page to become private has
     *         extra references (pinned for DMA, spliced): release them and retry; ENOMEM; EFAULT; EINTR
     */
    void setMemoryAttributes2(MemoryAttributes2 attributes);
}
