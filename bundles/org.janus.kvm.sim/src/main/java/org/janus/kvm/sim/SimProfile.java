package org.janus.kvm.sim;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The kernel the software KVM models. */
public enum SimProfile {
    /** Linux 6.12: guest_memfd without flags (KVM_CAP_GUEST_MEMFD_FLAGS unknown, answers 0), VM-wide attributes. */
    K6_12("6.12"),
    /**
     * Linux 6.18 and later up to 7.3, without the in-place series: GUEST_MEMFD_FLAG_MMAP and INIT_SHARED,
     * gmem-only memslots for guest_memfds created with MMAP, INIT_SHARED only for VMs without private memory,
     * VM-wide attributes for private VM types.
     */
    K7_3("7.3"),
    /**
     * The in-place conversion series (v8 numbering) with {@code gmem_in_place_conversion=Y}: attributes live in
     * each guest_memfd (KVM_SET_MEMORY_ATTRIBUTES2), the VM-wide ioctl answers ENOTTY, INIT_SHARED is allowed
     * for confidential VM types, pinned pages make a conversion to private fail with EAGAIN.
     */
    INPLACE("inplace"),
    /** The in-place series with {@code gmem_in_place_conversion=N}: legacy VM-wide attributes; the gmem ioctl answers ENOTTY. */
    INPLACE_OFF("inplace-off");

    private final String id;

    SimProfile(String id) { this.id = id; }

    /** The identifier used in configuration and the {@code janus.kvm.profile} service property. */
    public String id() { return id; }

    /**
     * The profile with this identifier.
     *
     * @throws IllegalArgumentException naming the valid identifiers
     */
    public static SimProfile byId(String id) {
        for (SimProfile p : values()) if (p.id.equals(id)) return p;
        throw new IllegalArgumentException("unknown kernel profile '" + id + "'; valid profiles: " + validIds());
    }

    /** The valid identifiers, comma separated. */
    public static String validIds() {
        return Arrays.stream(values()).map(SimProfile::id).collect(Collectors.joining(", "));
    }
}
