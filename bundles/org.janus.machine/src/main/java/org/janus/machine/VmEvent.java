package org.janus.machine;

/** What a {@link VmListener} is told. */
public sealed interface VmEvent {
    /** The VM's id. */
    String vm();

    /** The VM went from one state to another (a pause, a resume, its end, a start). */
    record StateChanged(String vm, VmState from, VmState to) implements VmEvent {}

    /**
     * A platform or memory backend was replaced under the VM.
     *
     * @param pausedNanos how long its vCPUs were parked for the swap
     * @param exitsWhileParked exits handled between the first vCPU parking and the last one resuming (0: the swap
     *        happened entirely between two exits of every vCPU)
     */
    record Swapped(String vm, ServiceKind kind, ServiceInfo from, ServiceInfo to, long pausedNanos,
                   long exitsWhileParked) implements VmEvent {}
}
