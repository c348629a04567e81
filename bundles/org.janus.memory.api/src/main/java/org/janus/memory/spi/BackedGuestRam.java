package org.janus.memory.spi;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.memory.api.ConversionListener;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.MemoryException.Step;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.janus.memory.api.RamHandover;
import org.janus.memory.api.RamRegion;

/**
 * The part of a {@link GuestRam} every backend shares. A conversion is planned by the backend as a list of
 * {@link ConversionStep}s; they run in order and, when one fails, those already done are undone in reverse. If an
 * undo fails too, the region is marked broken with the exact range and both causes.
 */
public abstract class BackedGuestRam implements GuestRam {
    private static final System.Logger LOG = System.getLogger(BackedGuestRam.class.getName());
    private final RamRegion region;
    private final String backend;
    private final long pageSize;
    private final PageStateMap states;
    private final List<ConversionListener> listeners = new CopyOnWriteArrayList<>();
    private volatile MemoryException broken;
    /**
     * Stale faces whose discard failed after their conversion was done: still allocated, discarded again at each
     * conversion, and before any of their pages return to that face (the conversion is refused if it still fails).
     */
    private final List<StaleFace> staleFaces = new ArrayList<>();
    private volatile boolean closed;

    private volatile boolean relinquished;

    protected BackedGuestRam(RamRegion region, String backend, long pageSize, PageState initial) {
        this.region = region;
        this.backend = backend;
        this.pageSize = pageSize;
        this.states = new PageStateMap(region.gpa(), region.end(), pageSize, initial);
    }

    /** RAM taking over what another instance handed over: its page states and listeners, as they are. */
    protected BackedGuestRam(RamHandover handover) {
        this.region = handover.region();
        this.backend = handover.backend();
        this.pageSize = handover.states().pageSize();
        this.states = handover.states();
        this.listeners.addAll(handover.listeners());
    }

    /** The backend's files, mappings and settings, for {@link #handOver()}: API and JDK values only. */
    protected abstract Map<String, Object> backing();

    @Override public synchronized RamHandover handOver() {
        checkUsable();
        // A stale face is this object's clean-up to finish: the adopter would not know to discard it.
        for (StaleFace f : List.copyOf(staleFaces)) {
            try {
                f.discard().apply();
                staleFaces.remove(f);
            } catch (Exception e) {
                throw failure(Step.DISCARD, f.run(), "cannot hand over while the stale " + f.face().name().toLowerCase(java.util.Locale.ROOT)
                        + " face of " + f.run() + " is still allocated: " + e.getMessage(), e);
            }
        }
        return new RamHandover(region, backend, states, List.copyOf(listeners), backing());
    }

    @Override public synchronized void relinquish() { relinquished = true; }

    /** One reversible step of a conversion. */
    public interface ConversionStep {
        String name();

        Step kind();

        void apply() throws Exception;

        void undo() throws Exception;
    }

    /** A step from two actions. */
    public static ConversionStep step(String name, Step kind, Action apply, Action undo) {
        return step(() -> name, kind, apply, undo);
    }

    /**
     * A step from two actions, named only when a name is asked for: a name is needed only when something failed, and
     * formatting one for every step of every conversion would cost more than the bookkeeping it describes.
     */
    public static ConversionStep step(Supplier<String> name, Step kind, Action apply, Action undo) {
        return new ConversionStep() {
            public String name() { return name.get(); }
            public Step kind() { return kind; }
            public void apply() throws Exception { apply.run(); }
            public void undo() throws Exception { undo.run(); }
        };
    }

    /** A piece of work that may throw. */
    @FunctionalInterface
    public interface Action {
        void run() throws Exception;
    }

    /**
     * The steps that convert {@code run} (a maximal stretch currently in the opposite state, inside the region) to
     * {@code target}, in the order the strategy needs. Listener steps come from {@link #tellListeners}.
     */
    protected abstract List<ConversionStep> plan(GpaRange run, PageState target);

    /** The mapping host access goes through, and the offset of {@code gpa} in it. */
    protected abstract HostMapping hostMapping();

    /** Offset of {@code gpa} within {@link #hostMapping()}. */
    protected long mappingOffset(long gpa) { return gpa - region.gpa(); }

    /** Deletes the memslot and releases files and mappings (called once, by {@link #close()}). */
    protected abstract void release();

    @Override public final RamRegion region() { return region; }

    @Override public final String backend() { return backend; }

    public final long pageSize() { return pageSize; }

    @Override public synchronized PageState stateAt(long gpa) { return states.stateAt(gpa); }

    @Override public synchronized boolean isUniform(long gpa, long size, PageState state) {
        return states.isUniform(gpa, gpa + size, state);
    }

    @Override public synchronized List<PageStateMap.Run> runs(long gpa, long size) { return states.runs(gpa, gpa + size); }

    @Override public synchronized long privateBytes() { return states.privateBytes(); }

    @Override public boolean isBroken() { return broken != null; }

    @Override public void addListener(ConversionListener listener) { listeners.add(listener); }

    @Override public void removeListener(ConversionListener listener) { listeners.remove(listener); }

    /**
     * The steps that tell every listener about {@code run}: to private, {@code privatising} (undone by
     * {@code shared}); to shared, {@code shared} (undone by {@code privatising}).
     */
    protected final List<ConversionStep> tellListeners(GpaRange run, PageState target) {
        if (listeners.isEmpty()) return List.of();
        List<ConversionStep> steps = new ArrayList<>(listeners.size());
        for (ConversionListener l : listeners) {
            steps.add(target == PageState.PRIVATE
                    ? step(() -> "listener " + l + " privatising", Step.LISTENER,
                            () -> l.privatising(this, run.start(), run.size()), () -> l.shared(this, run.start(), run.size()))
                    : step(() -> "listener " + l + " shared", Step.LISTENER,
                            () -> l.shared(this, run.start(), run.size()), () -> l.privatising(this, run.start(), run.size())));
        }
        return steps;
    }

    /** Asks every listener again to release [gpa, gpa+size) (a page the kernel found still referenced). */
    protected final void askListenersToRelease(long gpa, long size) throws Exception {
        for (ConversionListener l : listeners) l.privatising(this, gpa, size);
    }

    @Override public synchronized PendingConversion begin(long gpa, long size, PageState target) {
        checkUsable();
        GpaRange range = GpaRange.of(gpa, size);
        if (size <= 0 || !region.contains(gpa, size))
            throw new MemoryException(region.name(), Step.CHECK, range, "not inside " + GpaRange.of(region.gpa(), region.size()), null);
        if (((gpa | size) & (pageSize - 1)) != 0)
            throw new MemoryException(region.name(), Step.CHECK, range, "not aligned to the page size 0x" + Long.toHexString(pageSize), null);
        if (!hasPrivateMemory())
            throw new MemoryException(region.name(), Step.CHECK, range, "the VM has no private memory to convert to or from", null);
        // A face left stale by an earlier conversion must be gone before pages of it come back to it; the others are
        // tried again in passing.
        retryStaleFaces(range, target);
        // Each run converted so far with the steps applied to it, so that a failure undoes exactly what was done.
        List<AppliedRun> applied = new ArrayList<>();
        // Discards cannot be undone: they wait for commit, when nothing that could still fail would need them back.
        List<Deferred> deferred = new ArrayList<>();
        for (PageStateMap.Run run : states.runs(range.start(), range.end())) {
            if (run.state() == target) continue;
            AppliedRun current = new AppliedRun(run, new ArrayList<>());
            applied.add(current);
            for (ConversionStep s : plan(run.range(), target)) {
                if (s.kind() == Step.DISCARD) {
                    deferred.add(new Deferred(run.range(), s));
                    continue;
                }
                try {
                    s.apply();
                } catch (Exception e) {
                    rollBack(applied, s, e);
                    throw failure(s.kind(), run.range(), s.name() + " failed: " + e.getMessage(), e);
                }
                current.steps().add(s);
                // The pages take their new face when the attribute changes: a listener told after that step (e.g.
                // one that maps and reads newly shared pages) must find them in the new state.
                if (s.kind() == Step.SET_ATTRIBUTES) states.set(run.range().start(), run.range().end(), target);
            }
            states.set(run.range().start(), run.range().end(), target);
        }
        return new Pending(applied, deferred, target.opposite());
    }

    /** A step left for commit, with the run it belongs to. */
    private record Deferred(GpaRange run, ConversionStep step) {}

    /** The face of {@code run} that {@code discard} frees, left allocated because the discard failed. */
    private record StaleFace(GpaRange run, PageState face, ConversionStep discard) {}

    /**
     * Discards the stale faces again. One that overlaps {@code range} on the face {@code target} must go now,
     * before the pages turn back to it (else they would show what they held before): if that fails the conversion
     * is refused, with nothing changed. The others may fail again and stay.
     */
    private void retryStaleFaces(GpaRange range, PageState target) {
        for (StaleFace f : List.copyOf(staleFaces)) {
            try {
                f.discard().apply();
                staleFaces.remove(f);
            } catch (Exception e) {
                if (f.face() == target && f.run().overlaps(range))
                    throw failure(Step.DISCARD, f.run(), "the stale " + f.face().name().toLowerCase(java.util.Locale.ROOT) + " face of "
                            + f.run() + " (left by an earlier conversion) must be discarded before it is used again, and that failed: "
                            + e.getMessage(), e);
            }
        }
    }

    /** Bytes of stale faces still allocated because their discard failed (they are tried again at each conversion). */
    public final synchronized long staleBytes() { return staleFaces.stream().mapToLong(f -> f.run().size()).sum(); }

    /** The second phase of a conversion: its deferred discards, or the undoing of its first phase. */
    private final class Pending implements PendingConversion {
        private final List<AppliedRun> applied;
        private final List<Deferred> deferred;
        private final PageState staleFace;
        private boolean ended;

        Pending(List<AppliedRun> applied, List<Deferred> deferred, PageState staleFace) {
            this.applied = applied;
            this.deferred = deferred;
            this.staleFace = staleFace;
        }

        /**
         * Discards the faces the pages left. The conversion is done once the attributes changed: a discard that
         * fails is clean-up that did not happen, never a reason to undo (undoing would bring back pages whose other
         * discards already ran, zeroed). The face stays allocated, counted in {@link #staleBytes()}, and is
         * discarded again later.
         */
        @Override public void commit() {
            synchronized (BackedGuestRam.this) {
                end();
                for (Deferred d : deferred) {
                    try {
                        d.step().apply();
                    } catch (Exception e) {
                        staleFaces.add(new StaleFace(d.run(), staleFace, d.step()));
                        LOG.log(System.Logger.Level.WARNING, region.name() + ": " + d.step().name() + " failed (" + e.getMessage()
                                + "); the stale face stays allocated and is discarded again at the next conversion");
                    }
                }
            }
        }

        @Override public void abort() {
            synchronized (BackedGuestRam.this) {
                end();
                if (applied.isEmpty()) return;
                rollBack(applied, null, null);
            }
        }

        private void end() {
            if (ended) throw new IllegalStateException("this conversion was already committed or aborted");
            ended = true;
        }
    }

    /** A run being converted, its state before, and the steps applied to it in order. */
    private record AppliedRun(PageStateMap.Run before, List<ConversionStep> steps) {}

    /**
     * Undoes every applied step, latest first, and puts back the page state of each run undone. A run whose undo
     * fails keeps its remaining steps (its pages are in an unknown state); the other runs are still undone, so the
     * region is as before everywhere except in the range the exception names, and then it is marked broken.
     */
    private void rollBack(List<AppliedRun> applied, ConversionStep failed, Exception cause) {
        MemoryException b = null;
        for (int i = applied.size() - 1; i >= 0; i--) {
            AppliedRun run = applied.get(i);
            GpaRange r = run.before().range();
            ConversionStep undoing = null;
            try {
                for (int j = run.steps().size() - 1; j >= 0; j--) {
                    undoing = run.steps().get(j);
                    undoing.undo();
                    if (undoing.kind() == Step.SET_ATTRIBUTES) states.set(r.start(), r.end(), run.before().state());
                }
                states.set(r.start(), r.end(), run.before().state());
            } catch (Exception undoFailure) {
                String what = failed == null
                        ? "undoing '" + undoing.name() + "' when the conversion was aborted failed: " + undoFailure.getMessage()
                        : "undoing '" + undoing.name() + "' after '" + failed.name() + "' failed (" + cause.getMessage()
                                + ") failed too: " + undoFailure.getMessage();
                if (b == null) {
                    b = new MemoryException(region.name(), Step.ROLLBACK, r, what, undoFailure);
                    if (cause != null) b.addSuppressed(cause);
                } else {
                    // Several runs are unknown: name the span that holds them all.
                    MemoryException wider = new MemoryException(region.name(), Step.ROLLBACK,
                            new GpaRange(r.start(), b.range().end()), what, undoFailure);
                    wider.addSuppressed(b);
                    b = wider;
                }
            }
        }
        if (b != null) {
            broken = b;
            throw b;
        }
    }

    private MemoryException failure(Step step, GpaRange range, String message, Exception cause) {
        if (cause instanceof MemoryException m) return m;
        return new MemoryException(region.name(), step, range, message, cause);
    }

    @Override public synchronized void read(long gpa, byte[] dst, int offset, int length) {
        checkHostAccess(gpa, length);
        try {
            hostMapping().read(mappingOffset(gpa), dst, offset, length);
        } catch (KvmException e) {
            throw new MemoryException(region.name(), Step.HOST_ACCESS, GpaRange.of(gpa, length), e.getMessage(), e);
        }
    }

    @Override public synchronized void write(long gpa, byte[] src, int offset, int length) {
        checkHostAccess(gpa, length);
        try {
            hostMapping().write(mappingOffset(gpa), src, offset, length);
        } catch (KvmException e) {
            throw new MemoryException(region.name(), Step.HOST_ACCESS, GpaRange.of(gpa, length), e.getMessage(), e);
        }
    }

    /** Refuses, before touching memory, a range outside the region or with any private page. */
    private void checkHostAccess(long gpa, long length) {
        checkUsable();
        GpaRange range = GpaRange.of(gpa, length);
        if (length < 0 || !region.contains(gpa, length))
            throw new MemoryException(region.name(), Step.HOST_ACCESS, range, "not inside the region", null);
        if (length == 0) return;
        long first = gpa & -pageSize;
        long last = (gpa + length + pageSize - 1) & -pageSize;
        if (!states.isUniform(first, last, PageState.SHARED)) {
            long at = states.runs(first, last).stream().filter(r -> r.state() == PageState.PRIVATE)
                    .findFirst().orElseThrow().range().start();
            throw new MemoryException(region.name(), Step.HOST_ACCESS, range,
                    "the page at 0x" + Long.toHexString(at) + " is private to the guest", null);
        }
    }

    private void checkUsable() {
        if (relinquished) throw new MemoryException(region.name(), Step.CHECK, null, "the region was handed over to another backend instance", null);
        if (closed) throw new MemoryException(region.name(), Step.CHECK, null, "the region was released", null);
        MemoryException b = broken;
        if (b != null) throw new MemoryException(region.name(), Step.CHECK, b.range(), "the region is broken: " + b.getMessage(), b);
    }

    /** The page-state map, for the figures of subclasses. Call only while holding this object's lock. */
    protected final PageStateMap states() { return states; }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        if (relinquished) return;   // the adopter owns the backing now
        release();
    }

    @Override public String toString() { return backend + " RAM " + region; }
}
