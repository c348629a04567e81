package org.janus.guests.internal;

import static org.janus.guests.internal.GuestOps.G1;
import static org.janus.guests.internal.GuestOps.PAGE;

import java.util.List;
import java.util.Set;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.janus.platform.api.ConfidentialPlatform;
import org.osgi.service.component.annotations.Component;

/**
 * {@code linux-snp-boot}: see {@link LinuxSnpBootProgram}; for sev-snp VMs only. Options: {@code accept}, the memory
 * accepted lazily (default 32M, a multiple of the chunk), {@code chunk}, how much one acceptance covers (default 2M,
 * a power of two from 4K to 1G), {@code swiotlb}, the bounce region (default 4M, at least a page per vCPU), and
 * {@code seed} (default 1). The program's data starts at the first 2 MiB boundary from 16 MiB in RAM that holds
 * 2 MiB + the SWIOTLB region + the memory to accept.
 */
@Component(service = GuestProgramFactory.class, property = GuestProgramFactory.PROPERTY + "=" + LinuxSnpBootFactory.NAME)
public final class LinuxSnpBootFactory implements GuestProgramFactory {
    public static final String NAME = "linux-snp-boot";
    static final Set<String> OPTIONS = Set.of("accept", "chunk", "swiotlb", "seed");

    private record Read(LinuxSnpBootProgram.Layout layout, long seed, List<SpecProblem> problems) {}

    private static Read read(GuestProgramContext context) {
        GuestOptions o = new GuestOptions(context.options(), OPTIONS);
        long chunk = o.size("chunk", 2L << 20, PAGE, G1);
        if (Long.bitCount(chunk) != 1) {
            o.problem("chunk", GuestOptions.hex(chunk) + " is not a power of two (4K, 2M, 1G, ...)");
            chunk = 2L << 20;
        }
        long accept = o.size("accept", 32L << 20, chunk, 1L << 40);
        if (accept % chunk != 0) o.problem("accept", GuestOptions.hex(accept) + " is not a multiple of the chunk " + GuestOptions.hex(chunk));
        long swiotlb = o.size("swiotlb", 4L << 20, PAGE, 1L << 32);
        if (swiotlb % PAGE != 0) o.problem("swiotlb", GuestOptions.hex(swiotlb) + " is not a multiple of 4 KiB");
        else if (swiotlb / PAGE < context.vcpuCount()) o.problem("swiotlb", GuestOptions.hex(swiotlb) + " holds less than one 4 KiB"
                + " bounce slot for each of the " + context.vcpuCount() + " vCPUs");
        long seed = o.whole("seed", 1, Long.MIN_VALUE, Long.MAX_VALUE);
        if (!ConfidentialPlatform.SEV_SNP.equals(context.platform()) || context.access() != GuestProgramContext.AccessModel.GUEST_CHOSEN)
            o.problem("", "linux-snp-boot boots an SEV-SNP guest (private or shared chosen per access, GHCB, SWIOTLB);"
                    + " this is a " + context.platform() + " VM");
        if (context.vcpuCount() > LinuxSnpBootProgram.MAX_VCPUS)
            o.problem("", context.vcpuCount() + " vCPUs; the program keeps at most " + LinuxSnpBootProgram.MAX_VCPUS + " GHCBs");
        LinuxSnpBootProgram.Layout layout = null;
        if (o.problems().isEmpty()) {
            long need = LinuxSnpBootProgram.Layout.bytesNeeded(accept, swiotlb);
            layout = LinuxSnpBootProgram.Layout.place(context.ram(), accept, chunk, swiotlb).orElse(null);
            if (layout == null) o.problem("", "no RAM region holds the program's " + GuestOps.mib(need) + " (2 MiB of kernel data,"
                    + " the SWIOTLB region and the memory to accept) from a 2 MiB boundary at or above 16 MiB; add RAM or lower accept");
        }
        return new Read(layout, seed, o.problems());
    }

    @Override public List<SpecProblem> validate(GuestProgramContext context) { return read(context).problems(); }

    @Override public GuestProgram create(GuestProgramContext context) {
        Read r = read(context);
        if (!r.problems().isEmpty()) throw new IllegalArgumentException(NAME + ": " + r.problems());
        return new LinuxSnpBootProgram(context, r.layout(), r.seed());
    }
}
