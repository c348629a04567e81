package org.janus.kvm.sim;

/**
 * Guest code run by a software vCPU ({@link SimVcpu#load}). Returning normally ends the guest with
 * SYSTEM_EVENT_SHUTDOWN; throwing ends it with SYSTEM_EVENT_CRASH and the throwable in
 * {@link SimVcpu#guestFailure()}.
 */
@FunctionalInterface
public interface GuestProgram {
    void run(GuestCpu cpu) throws Exception;
}
