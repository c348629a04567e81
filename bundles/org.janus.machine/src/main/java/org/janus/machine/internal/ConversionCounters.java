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

    private final Map<String, Count> counts = new TreeMap<>();

    synchronized void record(ConversionRequest request, ConversionOutcome outcome) {
        String source;
        String direction;
        if (request instanceof ConversionRequest.Convert c) {
            source = name(c.source());
            direction = direction(c.target());
        } else {
            source = name(((ConversionRequest.Invalid) request).source());
            direction = MALFORMED;
        }
        Count c = counts.computeIfAbsent(source + "/" + direction, k -> new Count());
        c.requests++;
        if (outcome instanceof ConversionOutcome.Done d) {
            c.done++;
            c.bytes += d.converted().stream().mapToLong(GpaRange::size).sum();
        } else if (outcome instanceof ConversionOutcome.Refused) {
            c.refused++;
        }
    }

    synchronized List<ConversionCount> snapshot() {
        List<ConversionCount> out = new ArrayList<>();
        counts.forEach((key, c) -> {
            String[] sd = key.split("/");
            out.add(new ConversionCount(sd[0], sd[1], c.requests, c.done, c.refused, c.bytes));
        });
        return out;
    }

    static String name(ConversionRequest.Source source) { return source.name().toLowerCase(Locale.ROOT).replace('_', '-'); }

    static String direction(PageState target) { return target == PageState.PRIVATE ? "to-private" : "to-shared"; }
}
