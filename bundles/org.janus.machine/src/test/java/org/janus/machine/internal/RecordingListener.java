package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.sim.SimKvm;
import org.janus.memory.api.ConversionListener;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryFigures;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;

/**
 * A conversion listener that behaves like a DMA user: it keeps, per region, the pages it has mapped (told shared)
 * and unmapped (told privatising), records every call with what the kernel model said at that moment, and refuses
 * calls a test chooses.
 */
final class RecordingListener implements ConversionListener {
    /** One call: which, where, whether the model had the first page private then, and the figures if measured. */
    record Event(String kind, String region, long gpa, long size, boolean modelPrivate, MemoryFigures figures) {}

    final List<Event> events = new ArrayList<>();
    private final SimKvm kvm;
    private final KvmVm vm;
    private final Map<GuestRam, BitSet> mapped = new IdentityHashMap<>();
    /** Calls to refuse (the listener throws). */
    volatile Predicate<Event> refuse = e -> false;
    /** Whether to measure figures at each call. */
    volatile boolean measure;

    RecordingListener(SimKvm kvm, KvmVm vm) {
        this.kvm = kvm;
        this.vm = vm;
    }

    /** Starts listening to {@code ram}, with its shared pages mapped. */
    void watch(GuestRam ram) {
        BitSet b = new BitSet();
        for (PageStateMap.Run r : ram.runs(ram.region().gpa(), ram.region().size()))
            if (r.state() == PageState.SHARED) b.set(page(ram, r.range().start()), page(ram, r.range().end()));
        mapped.put(ram, b);
        ram.addListener(this);
    }

    private static int page(GuestRam ram, long gpa) { return (int) ((gpa - ram.region().gpa()) / SimMachine.P); }

    private Event record(String kind, GuestRam ram, long gpa, long size) throws Exception {
        Event e = new Event(kind, ram.region().name(), gpa, size, kvm.isPrivate(vm, gpa), measure ? ram.figures() : null);
        events.add(e);
        if (refuse.test(e)) throw new Exception("the test listener refuses " + kind + " of 0x" + Long.toHexString(gpa));
        return e;
    }

    @Override public void privatising(GuestRam ram, long gpa, long size) throws Exception {
        record("privatising", ram, gpa, size);
        mapped.get(ram).clear(page(ram, gpa), page(ram, gpa + size));
    }

    @Override public void shared(GuestRam ram, long gpa, long size) throws Exception {
        record("shared", ram, gpa, size);
        mapped.get(ram).set(page(ram, gpa), page(ram, gpa + size));
    }

    /** The pages this listener has mapped, as page numbers of {@code ram}. */
    BitSet mapped(GuestRam ram) { return (BitSet) mapped.get(ram).clone(); }

    @Override public String toString() { return "recording listener"; }
}
