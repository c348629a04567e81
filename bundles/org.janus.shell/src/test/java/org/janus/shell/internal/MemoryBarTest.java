package org.janus.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.janus.machine.RegionMap;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.junit.jupiter.api.Test;

class MemoryBarTest {
    private static final long M = 1 << 20;

    private static RegionMap region(long gpa, long size, long... privateRanges) {
        List<PageStateMap.Run> runs = new ArrayList<>();
        long at = gpa;
        for (int i = 0; i < privateRanges.length; i += 2) {
            long s = gpa + privateRanges[i];
            long e = gpa + privateRanges[i + 1];
            if (s > at) runs.add(new PageStateMap.Run(new GpaRange(at, s), PageState.SHARED));
            runs.add(new PageStateMap.Run(new GpaRange(s, e), PageState.PRIVATE));
            at = e;
        }
        if (at < gpa + size) runs.add(new PageStateMap.Run(new GpaRange(at, gpa + size), PageState.SHARED));
        return new RegionMap("r", gpa, size, "guest-memfd", runs);
    }

    @Test
    void eachCharacterIsASixtyFourthOfTheRegion() {
        assertEquals(".".repeat(64), MemoryBar.bar(region(0, 64 * M)));
        assertEquals("P".repeat(64), MemoryBar.bar(region(1L << 30, 64 * M, 0, 64 * M)));
        // the first half private, one page in the third quarter's first cell, the last cell half private
        String bar = MemoryBar.bar(region(1L << 32, 64 * M, 0, 32 * M, 48 * M, 48 * M + 4096, 63 * M + M / 2, 64 * M));
        assertEquals("P".repeat(32) + "." .repeat(16) + "p" + ".".repeat(14) + "p", bar);
    }

    @Test
    void oddSizesAndHugeRegionsAreCoveredExactly() {
        long size = 3 * 4096 * 7;
        assertEquals("P".repeat(64), MemoryBar.bar(region(0, size, 0, size)));
        long huge = 1L << 50;
        assertEquals("P" + ".".repeat(63), MemoryBar.bar(region(1L << 52, huge, 0, huge / 64)));
        assertEquals("p" + ".".repeat(63), MemoryBar.bar(region(1L << 52, huge, 0, huge / 64 - 4096)));
    }

    @Test
    void describeListsTheRuns() {
        String text = MemoryBar.describe(region(0, 64 * M, 0, 2 * M));
        String[] lines = text.split("\\R");
        assertEquals(3, lines.length, text);
        assertEquals("    0x000000000000-0x0000001fffff        2M private", lines[1]);
        assertEquals("    0x000000200000-0x000003ffffff       62M shared", lines[2]);
        assertEquals("1.5G", MemoryBar.size(3L << 29));
    }
}
