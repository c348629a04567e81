/**
 * The embedded software KVM: a reference model of Linux KVM and guest_memfd, behaving as the kernel documents
 * for a chosen {@link org.janus.kvm.sim.SimProfile kernel profile} and {@link org.janus.kvm.sim.SimHardware
 * hardware}. Guest memory is real host memory (a memfd per guest_memfd); vCPUs run {@link
 * org.janus.kvm.api.program.GuestProgram guest programs} written in Java and return the exits KVM would.
 */
@Export
@Version("1.1.0")
package org.janus.kvm.sim;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
