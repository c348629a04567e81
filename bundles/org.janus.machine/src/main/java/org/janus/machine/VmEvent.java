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
     * @param exitsToPark exits the vCPUs handled between the swap's start and the last of them parking: the
     *        exits in flight that completed on the old service (0 when the VM was paused or waiting for a replacement)
     */
    record Swapped(String vm, ServiceKind kind, ServiceInfo from, ServiceInfo to, long pausedNanos,
                   long exitsToPark) implements VmEvent {}
}
