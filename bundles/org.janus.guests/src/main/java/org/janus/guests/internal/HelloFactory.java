package org.janus.guests.internal;

import java.util.List;
import java.util.Set;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.osgi.service.component.annotations.Component;

/** {@code hello}: see {@link HelloProgram}. Option {@code repeat} (1): how many times each vCPU says it. */
@Component(service = GuestProgramFactory.class, property = GuestProgramFactory.PROPERTY + "=" + HelloFactory.NAME)
public final class HelloFactory implements GuestProgramFactory {
    public static final String NAME = "hello";

    static final Set<String> OPTIONS = Set.of("repeat");

    @Override public List<SpecProblem> validate(GuestProgramContext context) {
        GuestOptions o = new GuestOptions(context.options(), OPTIONS);
        o.whole("repeat", 1, 1, 100_000_000);
        return o.problems();
    }

    @Override public GuestProgram create(GuestProgramContext context) {
        return new HelloProgram(context, new GuestOptions(context.options(), OPTIONS).whole("repeat", 1, 1, 100_000_000));
    }
}
