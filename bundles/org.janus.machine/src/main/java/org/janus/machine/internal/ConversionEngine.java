package org.janus.machine.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;

/**
 * Every private/shared conversion of a VM goes through here: validated against the memory map (QEMU's table:
 * holes and MMIO converted to shared are skipped, to private refused; RAM without a private face refused), split
 * per RAM region, converted by each region's backend, and rolled back as a whole when a later part fails. If a
 * rollback fails too, the outcome is {@link ConversionOutcome.Stop} with the exact range and cause.
 */
public final class ConversionEngine {
    private final GuestMemoryMap map;

    public ConversionEngine(GuestMemoryMap map) { this.map = map; }

    public GuestMemoryMap map() { return map; }

    public ConversionOutcome handle(ConversionRequest request) {
        if (request instanceof ConversionRequest.Invalid invalid) return new ConversionOutcome.Refused(Errno.EINVAL, invalid.reason());
        ConversionRequest.Convert c = (ConversionRequest.Convert) request;
        return convert(c.range(), c.target());
    }

    public ConversionOutcome convert(GpaRange range, PageState target) {
        GuestRam holding = map.ramHolding(range.start(), range.end());
        if (holding != null && holding.hasPrivateMemory()) return convertWithin(holding, range, target);
        List<GuestMemoryMap.Ram> parts = new ArrayList<>();
        List<GpaRange> skipped = new ArrayList<>();
        for (GuestMemoryMap.Area area : map.areas(range.start(), range.end())) {
            if (area instanceof GuestMemoryMap.Ram ram) {
                if (!ram.ram().hasPrivateMemory())
                    return new ConversionOutcome.Refused(Errno.EINVAL, "RAM region " + ram.ram().region().name()
                            + " has no guest_memfd, so " + area.range() + " cannot be converted");
                parts.add(ram);
            } else if (target == PageState.SHARED) {
                skipped.add(area.range());
            } else {
                return new ConversionOutcome.Refused(Errno.EINVAL, area.range() + " is "
                        + (area instanceof GuestMemoryMap.Mmio m ? "MMIO (" + m.hole().name() + ")" : "not assigned")
                        + " and cannot become private");
            }
        }
        // Two phases: every part begins (attributes, listeners); only when all began does each commit (discards of
        // stale faces, which cannot be undone). A failure while beginning aborts the parts begun, so no content is
        // lost; a failure while committing converts back the parts already committed.
        List<Begun> begun = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            GuestMemoryMap.Ram part = parts.get(i);
            GuestRam ram = part.ram();
            // What a part was, for converting it back if a later part fails to commit; the last has no later part.
            List<PageStateMap.Run> before = i < parts.size() - 1 ? ram.runs(part.range().start(), part.range().size()) : List.of();
            try {
                begun.add(new Begun(ram, before, ram.begin(part.range().start(), part.range().size(), target)));
            } catch (MemoryException e) {
                return failed(part, e, abort(begun));
            }
        }
        Deque<Undo> committed = new ArrayDeque<>();
        for (int i = 0; i < begun.size(); i++) {
            Begun b = begun.get(i);
            try {
                b.pending().commit();
                committed.push(new Undo(b.ram(), b.before()));
            } catch (MemoryException e) {
                return failed(parts.get(i), e, merge(abort(begun.subList(i + 1, begun.size())), rollback(committed)));
            }
        }
        List<GpaRange> converted = new ArrayList<>(parts.size());
        for (GuestMemoryMap.Ram part : parts) converted.add(part.range());
        return new ConversionOutcome.Done(converted, skipped);
    }

    /**
     * A range inside one RAM region with a private face, the common case: the same two phases with nothing to put
     * back elsewhere, so without the lists the general case keeps.
     */
    private static ConversionOutcome convertWithin(GuestRam ram, GpaRange range, PageState target) {
        GuestRam.PendingConversion pending;
        try {
            pending = ram.begin(range.start(), range.size(), target);
        } catch (MemoryException e) {
            return failed(ram, range, e, null);
        }
        try {
            pending.commit();
        } catch (MemoryException e) {
            return failed(ram, range, e, null);
        }
        return new ConversionOutcome.Done(List.of(range), List.of());
    }

    /**
     * The outcome when {@code part} failed with {@code e} (it undid itself, or broke its region in the range the
     * exception names) and the other parts were put back, with {@code undo} saying where that failed, if anywhere.
     */
    private static ConversionOutcome failed(GuestMemoryMap.Ram part, MemoryException e, ConversionOutcome.Stop undo) {
        return failed(part.ram(), part.range(), e, undo);
    }

    private static ConversionOutcome failed(GuestRam ram, GpaRange part, MemoryException e, ConversionOutcome.Stop undo) {
        ConversionOutcome.Stop stop = ram.isBroken()
                ? new ConversionOutcome.Stop(e.range() != null ? e.range() : part, e.getMessage(), e)
                : null;
        if (undo != null && stop == null) {
            // Putting the others back was needed because of e: the stop carries both causes.
            undo.error().addSuppressed(e);
            undo = new ConversionOutcome.Stop(undo.range(), undo.cause() + ", after " + e.getMessage(), undo.error());
        }
        stop = merge(stop, undo);
        if (stop != null) return stop;
        return new ConversionOutcome.Refused(e.errno(), e.getMessage());
    }

    private record Begun(GuestRam ram, List<PageStateMap.Run> before, GuestRam.PendingConversion pending) {}

    /** Aborts begun parts, latest first; a part that cannot be put back is named, the others are still aborted. */
    private static ConversionOutcome.Stop abort(List<Begun> begun) {
        ConversionOutcome.Stop stop = null;
        for (int i = begun.size() - 1; i >= 0; i--) {
            Begun b = begun.get(i);
            try {
                b.pending().abort();
            } catch (MemoryException e) {
                GpaRange unknown = e.range() != null ? e.range() : b.before().get(0).range();
                stop = merge(stop, new ConversionOutcome.Stop(unknown, "aborting the conversion of " + unknown + " failed: "
                        + e.getMessage(), e));
            }
        }
        return stop;
    }

    private record Undo(GuestRam ram, List<PageStateMap.Run> before) {}

    /**
     * Converts each part back to what it was, latest first. A run that cannot be put back does not stop the
     * others; the outcome names it (or the span of all such runs), and everything outside it is as before.
     */
    private static ConversionOutcome.Stop rollback(Deque<Undo> done) {
        ConversionOutcome.Stop stop = null;
        while (!done.isEmpty()) {
            Undo u = done.pop();
            for (PageStateMap.Run run : u.before()) {
                try {
                    u.ram().convert(run.range().start(), run.range().size(), run.state());
                } catch (MemoryException e) {
                    GpaRange unknown = u.ram().isBroken() && e.range() != null ? e.range() : run.range();
                    stop = merge(stop, new ConversionOutcome.Stop(unknown, "rolling back " + run.range() + " to "
                            + run.state() + " failed: " + e.getMessage(), e));
                }
            }
        }
        return stop;
    }

    /** One stop for two failures: the span of both ranges, the first cause, the second kept as suppressed. */
    private static ConversionOutcome.Stop merge(ConversionOutcome.Stop a, ConversionOutcome.Stop b) {
        if (a == null) return b;
        if (b == null) return a;
        a.error().addSuppressed(b.error());
        GpaRange span = new GpaRange(Math.min(a.range().start(), b.range().start()), Math.max(a.range().end(), b.range().end()));
        return new ConversionOutcome.Stop(span, a.cause() + "; " + b.cause(), a.error());
    }
}
