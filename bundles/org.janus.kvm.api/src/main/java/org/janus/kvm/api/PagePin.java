package org.janus.kvm.api;

/** Extra references on pages of a mapping (see {@link HostMapping#pin}); closing drops them. */
public interface PagePin extends AutoCloseable {
    /** Offset of the pinned range within its mapping. */
    long offset();

    long length();

    @Override void close();
}
