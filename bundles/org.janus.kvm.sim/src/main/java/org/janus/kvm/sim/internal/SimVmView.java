package org.janus.kvm.sim.internal;

/** What {@link org.janus.kvm.sim.SimKvm} may ask a VM of the model beyond the KVM API. */
public interface SimVmView {
    boolean isPrivate(long gpa);
}
