package org.janus.memory.api;

/** The two faces of a guest page. */
public enum PageState {
    /** The host may access it (I/O buffers, bounce buffers, the GHCB). */
    SHARED,
    /** Only the guest may access it. */
    PRIVATE;

    public PageState opposite() { return this == SHARED ? PRIVATE : SHARED; }
}
