package org.janus.guests.internal;

import java.util.List;
import java.util.Set;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.osgi.service.component.annotations.Component;

/** {@code hello}: see {@link HelloProgram}. No options. */
@Component(service = GuestProgramFactory.class, property = GuestProgramFactory.PROPERTY + "=" + HelloFactory.NAME)
public final class HelloFactory implements GuestProgramFactory {
    public static final String NAME = "hello";

    @Override public List<SpecProblem> validate(GuestProgramContext context) {
        return new GuestOptions(context.options(), Set.of()).problems();
    }

    @Override public GuestProgram create(GuestProgramContext context) { return new HelloProgram(context); }
}
