/**
 * Guest programs for the software KVM. Each program is one class (the {@link org.janus.kvm.api.program.GuestProgram} a
 * vCPU runs) with one factory beside it, a Declarative Services component registering
 * {@link org.janus.machine.GuestProgramFactory} with {@code janus.guest} = the program's name. Options come from
 * the spec's {@code guest.options} and are read with {@link org.janus.guests.internal.GuestOptions}.
 */
package org.janus.guests.internal;
