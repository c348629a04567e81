package org.janus.kvm.sim.internal;

import java.util.Optional;

/** What {@link org.janus.kvm.sim.SimKvm} may ask a VM of the model beyond the KVM API. */
public interface SimVmView {
    boolean isPrivate(long gpa);

    /** The launch digest of the modelled SEV firmware, once an SNP launch has finished. */
    Optional<byte[]> snpLaunchDigest();

    /** The MRTD of the modelled TDX module, once KVM_TDX_FINALIZE_VM has succeeded. */
    Optional<byte[]> tdxMrtd();

    /** What the VM's modelled firmware measured: the SNP launch digest or the TD's MRTD, once the launch ended. */
    default Optional<byte[]> launchDigest() { return snpLaunchDigest().or(this::tdxMrtd); }
}
