package org.janus.machine;

/**
 * What a swap request did.
 *
 * @param vm the VM's id
 * @param kind platform or backend
 * @param from the service the VM was bound to
 * @param to the service it is bound to now (the same as {@code from} when it already had the preferred one)
 * @param swapped whether a different service object now serves the VM
 * @param pausedNanos how long its vCPUs were parked; 0 when nothing was swapped
 */
public record SwapResult(String vm, ServiceKind kind, ServiceInfo from, ServiceInfo to, boolean swapped, long pausedNanos) {}
