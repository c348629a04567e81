package org.janus.kvm.sim;

import java.util.Optional;
import org.janus.kvm.api.KvmVcpu;
import org.osgi.annotation.versioning.ProviderType;

/** A vCPU of the software KVM: it runs a {@link GuestProgram} instead of guest machine code. */
@ProviderType
public interface SimVcpu extends KvmVcpu {

    /**
     * Sets the guest program the vCPU runs from its first KVM_RUN on. Without one, KVM_RUN returns
     * KVM_EXIT_INTERNAL_ERROR (emulation): the software KVM does not execute machine code.
     *
     * @throws IllegalStateException once the vCPU has started running
     */
    void load(GuestProgram program);

    /** What the guest program threw, once it has ended with SYSTEM_EVENT_CRASH. */
    Optional<Throwable> guestFailure();
}
