package org.janus.hostreport;

/** How a platform's guest memory would be backed on the probed host. */
public enum MemoryStrategy {
    /** One guest_memfd per RAM region, mmapped, attributes set per guest_memfd: contents survive conversions. */
    IN_PLACE("guest-memfd", "in-place"),
    /** Attributes set VM-wide; shared pages in ordinary memory, private pages in a guest_memfd. */
    LEGACY("legacy", "VM-wide attributes"),
    /** A VM type without private memory, backed by a guest_memfd created MMAP|INIT_SHARED (gmem-only memslots). */
    SHARED_ONLY("guest-memfd-shared", "shared-only"),
    /** A VM type without private memory on a kernel whose guest_memfd cannot be mmapped: ordinary memory. */
    PLAIN("plain", "ordinary memory"),
    /** The platform cannot run on this host. */
    UNAVAILABLE("unavailable", "");

    private final String id;
    private final String mode;

    MemoryStrategy(String id, String mode) {
        this.id = id;
        this.mode = mode;
    }

    /** The name in JSON and text: {@code guest-memfd}, {@code legacy}, {@code guest-memfd-shared}, {@code plain}, {@code unavailable}. */
    public String id() {
        return id;
    }

    /** The memory backend that would serve it: {@code guest-memfd}, {@code legacy} or {@code plain}; {@code null} if unavailable. */
    public String backend() {
        return switch (this) {
            case IN_PLACE, SHARED_ONLY -> "guest-memfd";
            case LEGACY -> "legacy";
            case PLAIN -> "plain";
            case UNAVAILABLE -> null;
        };
    }

    /** For text: e.g. {@code guest-memfd (in-place)}. */
    public String label() {
        return mode.isEmpty() ? id : backend() + " (" + mode + ")";
    }

    /** The strategy whose {@link #id()} is {@code id}. */
    public static MemoryStrategy ofId(String id) {
        for (MemoryStrategy s : values()) {
            if (s.id.equals(id)) return s;
        }
        throw new IllegalArgumentException("unknown memory strategy " + id);
    }
}
