package org.janus.kvm.sim.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PageRangesTest {
    @Test
    void matchesABitSetUnderRandomAddsAndRemoves() {
        Random rnd = new Random(42);
        PageRanges r = new PageRanges();
        BitSet b = new BitSet();
        for (int i = 0; i < 5000; i++) {
            int s = rnd.nextInt(200);
            int e = s + rnd.nextInt(20);
            if (rnd.nextBoolean()) {
                r.add(s, e);
                b.set(s, e);
            } else {
                r.remove(s, e);
                b.clear(s, e);
            }
            int q = rnd.nextInt(220);
            int qe = q + rnd.nextInt(10);
            assertEquals(b.get(q), r.contains(q));
            assertEquals(b.get(q, qe).cardinality() == qe - q, r.containsAll(q, qe));
            assertEquals(b.get(q, qe).isEmpty(), r.containsNone(q, qe));
            int first = b.nextSetBit(q);
            assertEquals(first >= 0 && first < qe ? first : -1, r.firstIn(q, qe));
        }
        long covered = r.rangesIn(0, 300).stream().mapToLong(x -> x[1] - x[0]).sum();
        assertEquals(b.cardinality(), covered);
    }

    @Test
    void adjacentRangesMerge() {
        PageRanges r = new PageRanges();
        r.add(0, 4);
        r.add(4, 8);
        assertEquals(1, r.rangeCount());
        r.remove(2, 3);
        assertEquals(2, r.rangeCount());
        assertFalse(r.contains(2));
        assertTrue(r.containsAll(3, 8));
    }
}
