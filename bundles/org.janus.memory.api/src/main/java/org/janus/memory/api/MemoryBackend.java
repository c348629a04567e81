package org.janus.memory.api;

import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVm;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A way of backing guest RAM, registered as a service with {@link #PROPERTY} set to its {@link #id()}. Backends
 * keep no state of their own: everything lives in the {@link GuestRam}s they create, which the machine owns.
 */
@ConsumerType
public interface MemoryBackend {
    /** Service property naming the backend. */
    String PROPERTY = "janus.memory.backend";
    /** In place: one guest_memfd per region, mmapped as guest RAM, attributes set on the guest_memfd. */
    String GUEST_MEMFD = "guest-memfd";
    /** Legacy fallback: VM-wide attributes, a memfd for the shared side and a guest_memfd for the private side. */
    String LEGACY = "legacy";

    /** {@link #GUEST_MEMFD} or {@link #LEGACY}. */
    String id();

    /**
     * Whether this backend can serve RAM of {@code vm}, judged from capabilities probed on the VM, and why (or
     * why not, saying what the host lacks).
     */
    Suitability suitability(KvmVm vm);

    /**
     * Creates the backing of {@code region}, binds it to the VM as a memslot and sets every page to
     * {@code initial}. On failure nothing is left behind: no memslot, no file, no mapping.
     *
     * @throws MemoryException naming the step that failed, with the {@link org.janus.kvm.api.KvmException} as cause;
     *         or when {@link #suitability} says no
     */
    GuestRam create(Kvm kvm, KvmVm vm, RamRegion region, PageState initial);

    /**
     * Takes over RAM that another instance of this backend (usually an older version of its bundle) made, from
     * what that RAM {@link GuestRam#handOver() handed over}: the same memslot, files, mappings, page states and
     * listeners, served by this backend's code from now on. Nothing is created or changed in KVM.
     *
     * @throws MemoryException when the handover is not this backend's kind (another id) or lacks what it needs;
     *         nothing was changed
     */
    GuestRam adopt(Kvm kvm, KvmVm vm, RamHandover handover);

    /** The verdict of {@link #suitability}: usable or not, and the reason in a sentence. */
    record Suitability(boolean usable, String reason) {
        public static Suitability yes(String reason) { return new Suitability(true, reason); }

        public static Suitability no(String reason) { return new Suitability(false, reason); }
    }
}
