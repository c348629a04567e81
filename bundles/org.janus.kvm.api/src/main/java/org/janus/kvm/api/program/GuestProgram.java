package org.janus.kvm.api.program;

/**
 * Guest code run by a vCPU of a modelled KVM ({@link ProgrammableVcpu#load}). Returning normally ends the guest with
 * SYSTEM_EVENT_SHUTDOWN; throwing ends it with SYSTEM_EVENT_CRASH and the throwable in
 * {@link ProgrammableVcpu#guestFailure()}.
 */
@FunctionalInterface
public interface GuestProgram {
    void run(GuestCpu cpu) throws Exception;
}
