package org.janus.memory.gmem.internal;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.junit.jupiter.api.Test;

/**
 * The control for {@link GuestRamLincheckTest}: the same operations and specification on a bare {@link PageStateMap},
 * which is documented as not thread-safe, used from several threads without a lock. Lincheck must find a scenario
 * that no sequential order explains; if it did not, a passing {@link GuestRamLincheckTest} would prove nothing.
 */
@Param(name = "page", gen = IntGen.class, conf = "0:7")
@Param(name = "count", gen = IntGen.class, conf = "1:4")
public class PageStateMapUnsafeLincheckTest {
    static final long P = GuestRamLincheckTest.P;
    private final PageStateMap map = new PageStateMap(0, 8 * P, P, PageState.SHARED);

    @Operation
    public void convertPrivate(@Param(name = "page") int page, @Param(name = "count") int count) {
        GpaRange r = GuestRamLincheckTest.range(page, count);
        map.set(r.start(), r.end(), PageState.PRIVATE);
    }

    @Operation
    public void convertShared(@Param(name = "page") int page, @Param(name = "count") int count) {
        GpaRange r = GuestRamLincheckTest.range(page, count);
        map.set(r.start(), r.end(), PageState.SHARED);
    }

    @Operation
    public List<PageStateMap.Run> runs(@Param(name = "page") int page, @Param(name = "count") int count) {
        GpaRange r = GuestRamLincheckTest.range(page, count);
        return map.runs(r.start(), r.end());
    }

    @Operation
    public long privateBytes() { return map.privateBytes(); }

    @Test
    void lincheckFindsTheRacesOfAnUnlockedMap() {
        AssertionError e = assertThrows(AssertionError.class, () -> new ModelCheckingOptions()
                .sequentialSpecification(GuestRamLincheckTest.Model.class).threads(2).actorsPerThread(3).actorsBefore(1)
                .actorsAfter(1).iterations(30).invocationsPerIteration(200).check(PageStateMapUnsafeLincheckTest.class));
        // A scenario whose results no sequential order gives (or a map corrupted into an exception), not a setup error.
        String m = String.valueOf(e.getMessage());
        assertTrue(m.contains("Invalid execution results") || m.contains("unexpected exception"), m);
    }
}
