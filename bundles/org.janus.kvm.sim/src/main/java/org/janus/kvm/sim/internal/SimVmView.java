package org.janus.kvm.sim.internal;

import java.util.Optional;

/** What {@link org.janus.kvm.sim.SimKvm} may ask a VM of the model beyond the KVM API. */
public interface SimVmView {
    boolean isPrivate(long gpa);

    /** The launch digest of the modelled SEV firmware, once an SNP launch has finished. */
    Optional<byte[]> snpLaunchDigest();
}
