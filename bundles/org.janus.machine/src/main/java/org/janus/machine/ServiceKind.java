package org.janus.machine;

/** The kinds of service a VM is bound to and that can be replaced under it while it runs. */
public enum ServiceKind {
    /** A {@link org.janus.platform.api.ConfidentialPlatform}, named by {@code janus.platform}. */
    PLATFORM,
    /** A {@link org.janus.memory.api.MemoryBackend}, named by {@code janus.memory.backend}. */
    BACKEND;

    /** {@code platform} or {@code backend}, as commands spell it. */
    public String word() { return name().toLowerCase(java.util.Locale.ROOT); }
}
