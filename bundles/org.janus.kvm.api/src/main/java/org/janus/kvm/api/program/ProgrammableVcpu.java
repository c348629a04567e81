package org.janus.kvm.api.program;

import java.util.Optional;
import org.janus.kvm.api.KvmVcpu;
import org.osgi.annotation.versioning.ProviderType;

/** A vCPU of a modelled KVM: it runs a {@link GuestProgram} instead of guest machine code. */
@ProviderType
public interface ProgrammableVcpu extends KvmVcpu {

    /**
     * Sets the guest program the vCPU runs from its first KVM_RUN on. Without one, KVM_RUN returns
     * KVM_EXIT_INTERNAL_ERROR (emulation): a modelled KVM does not execute machine code.
     *
     * @throws IllegalStateException once the vCPU has started running
     */
    void load(GuestProgram program);

    /** What the guest program threw, once it has ended with SYSTEM_EVENT_CRASH. */
    Optional<Throwable> guestFailure();
}
