package org.janus.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.janus.benchmarks.ConversionFootprint.Phase;
import org.janus.benchmarks.ConversionFootprint.Result;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.junit.jupiter.api.Test;

/** The benchmark on a tiny guest, so that it cannot rot: it runs, its figures mean what the table says, it prints. */
class ConversionFootprintSmokeTest {
    private static final long SIZE = 8 * ConversionFootprint.MIB;

    @Test
    void aTinyRunShowsOnePagePerGuestPageInPlaceAndTwoWhenLegacyKeepsBothFaces() {
        List<Result> results = ConversionFootprint.run(SIZE);
        Result inPlace = results.get(0), discard = results.get(1), keep = results.get(2);
        assertEquals(List.of(Strategy.IN_PLACE, Strategy.LEGACY_DISCARD, Strategy.LEGACY_KEEP), results.stream().map(Result::strategy).toList());
        for (Result r : results) {
            assertEquals(SIZE, r.figures().get(Phase.HOST_WROTE).allocated(), r.strategy() + " after the host wrote every page");
            for (Phase p : Phase.values()) if (p.conversion) assertTrue(r.gibPerSecond().get(p) > 0, r.strategy() + " " + p);
        }
        for (Phase p : Phase.values()) assertEquals(SIZE, inPlace.figures().get(p).allocated(), "in place, " + p);
        assertEquals(SIZE, discard.figures().get(Phase.GUEST_WROTE).allocated(), "legacy with discard holds one face");
        assertEquals(0, discard.figures().get(Phase.GUEST_WROTE).sharedAllocated());
        assertEquals(2 * SIZE, keep.figures().get(Phase.GUEST_WROTE).allocated(), "legacy without discard holds both faces");
        assertEquals("the guest's word", inPlace.contentsAfterRoundTrip());
        assertEquals("zero", discard.contentsAfterRoundTrip());
        assertEquals("the host's stale word", keep.contentsAfterRoundTrip());

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ConversionFootprint.print(SIZE, results, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String table = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(table.contains("| guest wrote every page (private) | 8.0 | 8.0 | 8.0 | 8.0 | 16.0 | 16.0 |"), table);
        assertTrue(table.contains("| to private, whole range |"), table);
    }
}
