package org.janus.benchmarks.scale;

import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;

/**
 * The page-state tracker under test: the current {@link PageStateMap} or the baseline it replaced
 * ({@link TreeMapPageStates}), measured side by side in one run.
 */
public sealed interface Tracker {
    void set(long start, long end, PageState state);

    PageState stateAt(long addr);

    int privateRunCount();

    /** The tracker object itself, whose retained size is measured. */
    Object target();

    static Tracker create(Kind kind, long size, long page) {
        return switch (kind) {
            case CHUNKED -> new Chunked(new PageStateMap(0, size, page, PageState.SHARED));
            case TREEMAP -> new Baseline(new TreeMapPageStates(0, size, page, PageState.SHARED));
        };
    }

    /** Which tracker: the names are JMH parameter values. */
    enum Kind {
        /** {@link PageStateMap}: runs as long pairs in chunks of 128. */
        CHUNKED,
        /** {@link TreeMapPageStates}: a {@code TreeMap<Long, Long>} entry per run, as before. */
        TREEMAP
    }

    record Chunked(PageStateMap map) implements Tracker {
        @Override public void set(long start, long end, PageState state) { map.set(start, end, state); }

        @Override public PageState stateAt(long addr) { return map.stateAt(addr); }

        @Override public int privateRunCount() { return map.privateRunCount(); }

        @Override public Object target() { return map; }
    }

    record Baseline(TreeMapPageStates map) implements Tracker {
        @Override public void set(long start, long end, PageState state) { map.set(start, end, state); }

        @Override public PageState stateAt(long addr) { return map.stateAt(addr); }

        @Override public int privateRunCount() { return map.privateRunCount(); }

        @Override public Object target() { return map; }
    }
}
