package org.janus.memory.api;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;

/**
 * A memory operation failed: which region, which step ({@link Step}), which GPA range, and the cause (usually
 * a {@link KvmException} with the errno). {@link #errno()} is what a guest that asked for it should be answered.
 */
public class MemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The steps of creating, converting and accessing guest RAM, each of which can fail. */
    public enum Step {
        CHECK, CREATE_BACKING, MAP, BIND_MEMSLOT, SET_INITIAL_STATE, LISTENER, SET_ATTRIBUTES, DISCARD,
        ROLLBACK, HOST_ACCESS, RELEASE
    }

    private final String region;
    private final Step step;
    private final GpaRange range;
    private final int errno;

    public MemoryException(String region, Step step, GpaRange range, String message, Throwable cause) {
        super(region + ": " + describe(step) + (range != null ? " " + range : "") + ": " + message, cause);
        this.region = region;
        this.step = step;
        this.range = range;
        this.errno = cause instanceof KvmException k ? k.errno() : Errno.EINVAL;
    }

    public String region() { return region; }

    public Step step() { return step; }

    /** The GPA range concerned, or null. */
    public GpaRange range() { return range; }

    /** The errno of the underlying KVM failure, EINVAL where there is none. */
    public int errno() { return errno; }

    private static String describe(Step step) {
        return switch (step) {
            case CHECK -> "refused";
            case CREATE_BACKING -> "creating the backing failed";
            case MAP -> "mapping the backing failed";
            case BIND_MEMSLOT -> "binding the memslot failed";
            case SET_INITIAL_STATE -> "setting the initial page state failed";
            case LISTENER -> "a conversion listener refused";
            case SET_ATTRIBUTES -> "setting memory attributes failed for";
            case DISCARD -> "discarding the stale side failed for";
            case ROLLBACK -> "rolling back failed for";
            case HOST_ACCESS -> "host access refused for";
            case RELEASE -> "releasing failed";
        };
    }
}
