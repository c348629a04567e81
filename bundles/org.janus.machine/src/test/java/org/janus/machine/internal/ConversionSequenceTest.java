package org.janus.machine.internal;

import java.util.Random;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.janus.kvm.api.VcpuExit;
import org.janus.memory.api.PageState;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Property: for random sequences of conversion exits (memory faults and MAP_GPA_RANGE hypercalls built by hand) and
 * host accesses, on every kernel profile with every strategy it supports and both VM types, after every step the
 * trackers equal the kernel model and the expected state, the guest gets the right answer, refused requests change
 * nothing, contents follow the strategy, host access to private pages is refused, and memory stays within bounds
 * ({@link SimMachine#check}). A failure names the setup, the seed and the step; rerunning that seed reproduces it.
 */
class ConversionSequenceTest {
    private static final int SEEDS = 6;
    private static final int STEPS = 40;

    static Stream<Arguments> setupsAndSeeds() {
        return SimSetup.all().stream().flatMap(s -> LongStream.range(0, SEEDS).mapToObj(seed -> Arguments.of(s, seed)));
    }

    @ParameterizedTest(name = "{0} seed {1}")
    @MethodSource("setupsAndSeeds")
    void everyStepKeepsTrackerModelAndContentsInStep(SimSetup setup, long seed) {
        Random random = new Random(seed * 1_000_003 + setup.hashCode());
        PageState[] initial = new PageState[3];
        for (int i = 0; i < 3; i++) initial[i] = random.nextInt(3) == 0 ? PageState.PRIVATE : PageState.SHARED;
        try (SimMachine m = new SimMachine(setup, SimMachine.Layout.standard(initial[0], initial[1], initial[2]), seed)) {
            ExitGenerator exits = new ExitGenerator(random, m);
            m.check(setup + " seed " + seed + " at start");
            for (int step = 0; step < STEPS; step++) {
                String context = setup + " seed " + seed + " step " + step;
                int what = random.nextInt(100);
                if (what < 25) {
                    long gpa = exits.ramPage();
                    m.hostWrite(gpa, random.nextLong() | 1, context + " host write 0x" + Long.toHexString(gpa));
                } else if (what < 32) {
                    long gpa = exits.ramPage();
                    m.hostWriteAcross(gpa, context + " host write across 0x" + Long.toHexString(gpa));
                } else {
                    VcpuExit exit = exits.next();
                    m.handle(exit, context + " " + exit);
                    context += " " + exit;
                }
                m.check(context);
            }
        }
    }
}
