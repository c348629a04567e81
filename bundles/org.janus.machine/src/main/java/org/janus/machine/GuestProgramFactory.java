package org.janus.machine;

import java.util.List;
import org.janus.kvm.api.program.GuestProgram;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Makes the guest program a vCPU of a modelled KVM runs (the software KVM executes Java guest programs, not machine code).
 * Registered as a service with {@link #PROPERTY} = the name a spec's {@code guest.program} uses; the machine finds
 * it by that name and loads one program per vCPU.
 */
@ConsumerType
public interface GuestProgramFactory {
    /** Service property: the program's name, e.g. {@code hello}. */
    String PROPERTY = "janus.guest";

    /**
     * Checks the spec's guest options against the VM they would run in, before anything is created. Called once,
     * with the context of vCPU 0.
     *
     * @return every problem, each with a path relative to {@code $.guest.options} (an option's name, or empty for
     *         the options as a whole); empty if none
     */
    List<SpecProblem> validate(GuestProgramContext context);

    /** The program vCPU {@code context.vcpuId()} runs. */
    GuestProgram create(GuestProgramContext context);
}
