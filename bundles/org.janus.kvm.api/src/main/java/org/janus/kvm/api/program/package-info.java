/**
 * The seam between the machine and a KVM provider that models the kernel rather than running on it (the embedded
 * software KVM): guest programs written in Java that its vCPUs run instead of machine code
 * ({@link org.janus.kvm.api.program.GuestProgram}, {@link org.janus.kvm.api.program.ProgrammableVcpu}), other hosts of
 * the same model for another kernel profile or hardware, and what its modelled firmware computed
 * ({@link org.janus.kvm.api.program.ModelledKvm}). The machine knows these interfaces, never the provider behind them.
 */
@Export
@Version("1.4.0")
package org.janus.kvm.api.program;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
