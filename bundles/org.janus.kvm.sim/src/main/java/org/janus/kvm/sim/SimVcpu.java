package org.janus.kvm.sim;

import org.janus.kvm.api.program.ProgrammableVcpu;
import org.osgi.annotation.versioning.ProviderType;

/** A vCPU of the software KVM: it runs a {@link org.janus.kvm.api.program.GuestProgram} instead of guest machine code. */
@ProviderType
public interface SimVcpu extends ProgrammableVcpu {}
