package org.janus.guests.internal;

import java.util.List;
import java.util.Set;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.osgi.service.component.annotations.Component;

/**
 * {@code framebuffer}: see {@link FramebufferProgram}. Options: {@code size} of the framebuffer (default 3M,
 * 1024x768 at 32 bits, a multiple of 4K, at least 8K), {@code frames} (default 8), {@code seed} (default 1). It sits
 * at the first 2 MiB boundary from 16 MiB in RAM that holds it.
 */
@Component(service = GuestProgramFactory.class, property = GuestProgramFactory.PROPERTY + "=" + FramebufferFactory.NAME)
public final class FramebufferFactory implements GuestProgramFactory {
    public static final String NAME = "framebuffer";
    static final Set<String> OPTIONS = Set.of("size", "frames", "seed");

    private record Read(long base, int size, int frames, long seed, List<SpecProblem> problems) {}

    private static Read read(GuestProgramContext context) {
        GuestOptions o = new GuestOptions(context.options(), OPTIONS);
        long size = o.size("size", 3L << 20, 2 * GuestOps.PAGE, 256L << 20);
        if (size % GuestOps.PAGE != 0) {
            o.problem("size", GuestOptions.hex(size) + " is not a multiple of 4 KiB");
            size = 3L << 20;
        }
        int frames = (int) o.whole("frames", 8, 1, 100_000);
        long seed = o.whole("seed", 1, Long.MIN_VALUE, Long.MAX_VALUE);
        if (context.access() == GuestProgramContext.AccessModel.SHARED_ONLY)
            o.problem("", "framebuffer shares and unshares its memory, and a " + context.platform()
                    + " VM has no private memory; use a platform that has (sw-protected, sev-snp, pkvm)");
        long base = GuestOps.place(context.ram(), size, GuestOps.M2, GuestOps.DATA_FLOOR).orElse(-1L);
        if (base < 0) o.problem("size", "no RAM region holds a " + GuestOps.mib(size) + " framebuffer from a 2 MiB boundary at"
                + " or above 16 MiB");
        return new Read(base, (int) size, frames, seed, o.problems());
    }

    @Override public List<SpecProblem> validate(GuestProgramContext context) { return read(context).problems(); }

    @Override public GuestProgram create(GuestProgramContext context) {
        Read r = read(context);
        if (!r.problems().isEmpty()) throw new IllegalArgumentException(NAME + ": " + r.problems());
        return new FramebufferProgram(context, r.base(), r.size(), r.frames(), r.seed());
    }
}
