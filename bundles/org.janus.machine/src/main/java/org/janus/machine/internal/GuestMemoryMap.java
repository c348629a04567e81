package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;

/**
 * The guest physical address space of one VM: RAM regions (each a {@link GuestRam}) and MMIO holes, which never
 * overlap; everything else is unassigned. Lookups are O(log n).
 */
public final class GuestMemoryMap {

    /** What lies at a stretch of GPAs. */
    public sealed interface Area permits Ram, Mmio, Unassigned {
        GpaRange range();
    }

    public record Ram(GpaRange range, GuestRam ram) implements Area {}

    public record Mmio(GpaRange range, MmioHole hole) implements Area {}

    public record Unassigned(GpaRange range) implements Area {}

    /** The areas in GPA order, and their starts: built once, never changed (a backend swap builds a new map). */
    private final Area[] areas;
    private final long[] starts;
    private final List<GuestRam> rams = new ArrayList<>();

    public GuestMemoryMap(List<GuestRam> rams, List<MmioHole> holes) {
        List<Area> all = new ArrayList<>();
        for (GuestRam r : rams) {
            all.add(new Ram(GpaRange.of(r.region().gpa(), r.region().size()), r));
            this.rams.add(r);
        }
        for (MmioHole h : holes) all.add(new Mmio(GpaRange.of(h.gpa(), h.size()), h));
        all.sort(Comparator.comparingLong(a -> a.range().start()));
        for (int i = 1; i < all.size(); i++) {
            Area before = all.get(i - 1);
            Area area = all.get(i);
            if (before.range().end() > area.range().start())
                throw new IllegalArgumentException(describe(area) + " overlaps " + describe(before));
        }
        this.areas = all.toArray(Area[]::new);
        this.starts = new long[areas.length];
        for (int i = 0; i < areas.length; i++) starts[i] = areas[i].range().start();
        this.rams.sort(Comparator.comparingLong(r -> r.region().gpa()));
    }

    private static String describe(Area a) {
        if (a instanceof Ram r) return "RAM region " + r.ram().region().name() + " " + r.range();
        if (a instanceof Mmio m) return "MMIO hole " + m.hole().name() + " " + m.range();
        return "unassigned " + a.range();
    }

    public List<GuestRam> rams() { return List.copyOf(rams); }

    /** The areas covering [start, end) in order, with unassigned gaps filled in and ends clipped to the range. */
    public List<Area> areas(long start, long end) {
        List<Area> out = new ArrayList<>();
        long at = start;
        for (int i = firstEndingAfter(start); i < areas.length && starts[i] < end; i++) {
            Area a = areas[i];
            if (a.range().start() > at) out.add(new Unassigned(new GpaRange(at, a.range().start())));
            GpaRange clipped = new GpaRange(Math.max(at, a.range().start()), Math.min(end, a.range().end()));
            if (a instanceof Ram r) out.add(new Ram(clipped, r.ram()));
            else if (a instanceof Mmio m) out.add(new Mmio(clipped, m.hole()));
            else out.add(new Unassigned(clipped));
            at = clipped.end();
        }
        if (at < end) out.add(new Unassigned(new GpaRange(at, end)));
        return out;
    }

    /**
     * The RAM that holds all of [start, end), or null when the range reaches beyond one RAM region: the common
     * conversion, answered without building the list {@link #areas} would.
     */
    public GuestRam ramHolding(long start, long end) {
        int i = firstEndingAfter(start);
        if (i == areas.length || !(areas[i] instanceof Ram r)) return null;
        return r.range().start() <= start && end <= r.range().end() ? r.ram() : null;
    }

    /** The index of the first area that ends after {@code gpa} (areas never overlap, so ends are in order too). */
    private int firstEndingAfter(long gpa) {
        int i = java.util.Arrays.binarySearch(starts, gpa);
        if (i < 0) i = -i - 2;   // the last area starting before gpa, or -1
        if (i < 0) return 0;
        return areas[i].range().end() > gpa ? i : i + 1;
    }
}
