package org.janus.guests.internal;

import java.util.List;
import java.util.Set;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.janus.memory.api.RamRegion;
import org.osgi.service.component.annotations.Component;

/**
 * {@code conversion-storm}: see {@link ConversionStormProgram}. Options: {@code seed} (default 1),
 * {@code iterations} per vCPU (default 16), {@code sizes} (a list of "4K", "2M", "1G"; default all),
 * {@code pagesPerRange} written and checked per range (default 16), {@code regions} (the names of the RAM regions
 * it converts; default all: an SEV-SNP spec names its guest RAM, leaving the firmware's regions alone).
 */
@Component(service = GuestProgramFactory.class, property = GuestProgramFactory.PROPERTY + "=" + ConversionStormFactory.NAME)
public final class ConversionStormFactory implements GuestProgramFactory {
    public static final String NAME = "conversion-storm";
    static final Set<String> OPTIONS = Set.of("seed", "iterations", "sizes", "pagesPerRange", "regions");

    /** The options read with their defaults, and what is wrong with them. */
    private record Read(long seed, long iterations, List<ConversionStormProgram.PageSize> sizes, int pagesPerRange,
                        List<RamRegion> ram, List<SpecProblem> problems) {}

    private static Read read(GuestProgramContext context) {
        GuestOptions o = new GuestOptions(context.options(), OPTIONS);
        long seed = o.whole("seed", 1, Long.MIN_VALUE, Long.MAX_VALUE);
        long iterations = o.whole("iterations", 16, 1, 1_000_000);
        List<String> names = o.choices("sizes", List.of("4K", "2M", "1G"), List.of("4K", "2M", "1G"));
        int pagesPerRange = (int) o.whole("pagesPerRange", 16, 1, 4096);
        List<ConversionStormProgram.PageSize> sizes = ConversionStormProgram.SIZES.stream().filter(s -> names.contains(s.name())).toList();
        List<String> regionNames = context.ram().stream().map(RamRegion::name).toList();
        List<String> chosen = o.choices("regions", regionNames, regionNames);
        List<RamRegion> ram = context.ram().stream().filter(r -> chosen.contains(r.name())).toList();
        if (context.access() == GuestProgramContext.AccessModel.SHARED_ONLY)
            o.problem("", "conversion-storm converts memory between private and shared, and a " + context.platform()
                    + " VM has no private memory; use a platform that has (sw-protected, sev-snp)");
        if (context.platform().equals("pkvm"))
            o.problem("", "conversion-storm converts with MAP_GPA_RANGE, an x86 hypercall; a pkvm guest shares and unshares"
                    + " with MEM_SHARE and MEM_UNSHARE (the framebuffer program does)");
        for (int vcpu = 0; vcpu < context.vcpuCount(); vcpu++) {
            List<ConversionStormProgram.Slice> slices = ConversionStormProgram.slices(ram, vcpu, context.vcpuCount());
            boolean fits = slices.stream().anyMatch(sl -> sizes.stream().anyMatch(z -> sl.units(z.bytes()) > 0));
            if (!fits) {
                o.problem("sizes", "vcpu " + vcpu + "'s share of RAM holds no whole page of " + names
                        + " (each of the " + context.vcpuCount() + " vCPUs converts its own part of every region)");
                break;
            }
        }
        return new Read(seed, iterations, sizes, pagesPerRange, ram, o.problems());
    }

    @Override public List<SpecProblem> validate(GuestProgramContext context) { return read(context).problems(); }

    @Override public GuestProgram create(GuestProgramContext context) {
        Read r = read(context);
        return new ConversionStormProgram(context, r.ram(), r.seed(), r.iterations(), r.sizes(), r.pagesPerRange());
    }
}
