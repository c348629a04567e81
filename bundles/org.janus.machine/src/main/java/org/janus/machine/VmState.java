package org.janus.machine;

/** Where a VM is in its life. {@link Stopped} and {@link Failed} are final: the VM's resources are released. */
public sealed interface VmState {

    /** Assembled and launched; its vCPU threads are parked until {@link VmManager#start}. */
    record Created() implements VmState {
        @Override public String toString() { return "CREATED"; }
    }

    record Running() implements VmState {
        @Override public String toString() { return "RUNNING"; }
    }

    /**
     * Every vCPU is parked between two runs: asked for by the host ({@link #BY_HOST}), or while a platform or
     * memory backend the VM is bound to is being replaced or is waited for (the reason says which, and until when).
     */
    record Paused(String reason) implements VmState {
        /** The reason of a pause the host asked for. */
        public static final String BY_HOST = "paused by the host";

        public Paused {
            if (reason == null || reason.isBlank()) reason = BY_HOST;
        }

        @Override public String toString() { return "PAUSED (" + reason + ")"; }
    }

    /** Ended by the guest (halt, shutdown, exit port) or the host (stop); everything is released. */
    record Stopped(String reason) implements VmState {
        @Override public String toString() { return "STOPPED (" + reason + ")"; }
    }

    /** Ended by an error the VM cannot continue after; everything is released. */
    record Failed(String reason) implements VmState {
        @Override public String toString() { return "FAILED (" + reason + ")"; }
    }

    /** Whether the VM has ended and released its resources. */
    default boolean isFinal() { return this instanceof Stopped || this instanceof Failed; }
}
