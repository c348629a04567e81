package org.janus.guests.internal;

import java.util.List;
import java.util.Set;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.osgi.service.component.annotations.Component;

/** {@code script}: see {@link ScriptProgram}. One option, {@code steps}: the list of steps. */
@Component(service = GuestProgramFactory.class, property = GuestProgramFactory.PROPERTY + "=" + ScriptFactory.NAME)
public final class ScriptFactory implements GuestProgramFactory {
    public static final String NAME = "script";

    @Override public List<SpecProblem> validate(GuestProgramContext context) {
        List<SpecProblem> problems = new java.util.ArrayList<>(new GuestOptions(context.options(), Set.of("steps")).problems());
        problems.addAll(ScriptProgram.parse(context).problems());
        return problems;
    }

    @Override public GuestProgram create(GuestProgramContext context) {
        ScriptProgram.Parsed parsed = ScriptProgram.parse(context);
        if (!parsed.problems().isEmpty()) throw new IllegalArgumentException(NAME + ": " + parsed.problems());
        return new ScriptProgram(context, parsed.steps());
    }
}
