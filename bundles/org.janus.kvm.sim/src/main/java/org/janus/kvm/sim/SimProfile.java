package org.janus.kvm.sim;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The kernel the software KVM models. The three {@code 7.4} profiles are one release in its two builds and, for the
 * build that has the module parameter, both of its values. {@code CONFIG_KVM_VM_MEMORY_ATTRIBUTES} depends on x86's
 * confidential VM options, so on arm64 every 7.4 profile is the build without it: no per-guest_memfd attributes
 * (arm64 has no private memory there), memory attributes as in 7.3.
 */
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
     * The in-place conversion series as posted in v8 (KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES = 250) with
     * {@code gmem_in_place_conversion=Y}: attributes live in each guest_memfd (KVM_SET_MEMORY_ATTRIBUTES2), the
     * VM-wide ioctl takes no PRIVATE (EINVAL), INIT_SHARED is allowed for confidential VM types, pinned pages make a
     * conversion to private fail with EAGAIN.
     */
    INPLACE("inplace"),
    /** The v8 series with {@code gmem_in_place_conversion=N}: legacy VM-wide attributes; the gmem ioctl answers ENOTTY. */
    INPLACE_OFF("inplace-off"),
    /**
     * Linux 7.4, the in-place conversion series as applied (KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES = 252), built with
     * {@code CONFIG_KVM_VM_MEMORY_ATTRIBUTES=y} and booted with that build's default {@code
     * kvm.gmem_in_place_conversion=N}: the legacy mode, VM-wide attributes; KVM_SET_MEMORY_ATTRIBUTES2 answers ENOTTY.
     */
    K7_4("7.4"),
    /**
     * Linux 7.4 built with {@code CONFIG_KVM_VM_MEMORY_ATTRIBUTES=y} and booted with {@code
     * kvm.gmem_in_place_conversion=Y}: the in-place mode. The VM-wide KVM_SET_MEMORY_ATTRIBUTES still exists but takes
     * no PRIVATE (EINVAL); every guest_memfd memslot is served from guest_memfd.
     */
    K7_4_INPLACE("7.4-inplace"),
    /**
     * Linux 7.4 built without {@code CONFIG_KVM_VM_MEMORY_ATTRIBUTES} (the option's default): in-place only. There is
     * no module parameter and no VM-wide KVM_SET_MEMORY_ATTRIBUTES (ENOTTY); KVM_CAP_MEMORY_ATTRIBUTES answers 0.
     */
    K7_4_NOVMATTR("7.4-novmattr");

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
