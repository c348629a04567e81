package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.janus.machine.RunSummary.ConversionCount;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.PageState;

/** Conversion requests counted by source and direction: received, done, refused, bytes converted. */
final class ConversionCounters {
    static final String MALFORMED = "malformed";

    private static final class Count {
        long requests;
        long done;
        long refused;
        long bytes;
    }

    /** Directions as counted: to private, to shared, or a request too malformed to have one. */
    private static final String[] DIRECTIONS = {"to-private", "to-shared", MALFORMED};

    /** By source and direction: counted on every conversion exit, so indexed rather than looked up by name. */
    private final Count[][] counts = new Count[ConversionRequest.Source.values().length][DIRECTIONS.length];

    synchronized void record(ConversionRequest request, ConversionOutcome outcome) {
        Count c;
        if (request instanceof ConversionRequest.Convert convert) {
            c = count(convert.source(), convert.target() == PageState.PRIVATE ? 0 : 1);
        } else {
            c = count(((ConversionRequest.Invalid) request).source(), 2);
        }
        c.requests++;
        if (outcome instanceof ConversionOutcome.Done d) {
            c.done++;
            for (GpaRange r : d.converted()) c.bytes += r.size();
        } else if (outcome instanceof ConversionOutcome.Refused) {
            c.refused++;
        }
    }

    private Count count(ConversionRequest.Source source, int direction) {
        Count c = counts[source.ordinal()][direction];
        if (c == null) counts[source.ordinal()][direction] = c = new Count();
        return c;
    }

    /** The counts of every source and direction seen so far, ordered by source name, then direction. */
    synchronized List<ConversionCount> snapshot() {
        Map<String, ConversionCount> sorted = new TreeMap<>();
        for (ConversionRequest.Source source : ConversionRequest.Source.values()) {
            for (int d = 0; d < DIRECTIONS.length; d++) {
                Count c = counts[source.ordinal()][d];
                if (c != null) sorted.put(name(source) + "/" + DIRECTIONS[d],
                        new ConversionCount(name(source), DIRECTIONS[d], c.requests, c.done, c.refused, c.bytes));
            }
        }
        return new ArrayList<>(sorted.values());
    }

    static String name(ConversionRequest.Source source) { return source.name().toLowerCase(Locale.ROOT).replace('_', '-'); }

}
