package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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

    private final TreeMap<Long, Area> byStart = new TreeMap<>();
    private final List<GuestRam> rams = new ArrayList<>();

    public GuestMemoryMap(List<GuestRam> rams, List<MmioHole> holes) {
        for (GuestRam r : rams) {
            add(new Ram(GpaRange.of(r.region().gpa(), r.region().size()), r));
            this.rams.add(r);
        }
        for (MmioHole h : holes) add(new Mmio(GpaRange.of(h.gpa(), h.size()), h));
        this.rams.sort(Comparator.comparingLong(r -> r.region().gpa()));
    }

    private void add(Area area) {
        Map.Entry<Long, Area> before = byStart.floorEntry(area.range().start());
        Map.Entry<Long, Area> after = byStart.ceilingEntry(area.range().start());
        if (before != null && before.getValue().range().end() > area.range().start())
            throw new IllegalArgumentException(describe(area) + " overlaps " + describe(before.getValue()));
        if (after != null && after.getKey() < area.range().end())
            throw new IllegalArgumentException(describe(area) + " overlaps " + describe(after.getValue()));
        byStart.put(area.range().start(), area);
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
        Map.Entry<Long, Area> first = byStart.floorEntry(start);
        Long from = first != null && first.getValue().range().end() > start ? first.getKey() : Long.valueOf(start);
        for (Area a : byStart.subMap(from, true, end, false).values()) {
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
}
