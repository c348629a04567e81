package org.janus.machine.internal;

import static org.janus.machine.internal.SimMachine.P;
import static org.janus.machine.internal.SimMachine.le;
import static org.janus.machine.internal.SimMachine.wordAddress;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.janus.kvm.api.VcpuExit;
import org.janus.memory.api.PageState;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Property, with a real guest: a guest program on a software vCPU reads and writes its memory and asks for
 * conversions with MAP_GPA_RANGE; on SEV-SNP it also chooses private or shared per access (C-bit), so a mismatch
 * raises a real KVM_EXIT_MEMORY_FAULT that the exit loop hands to the engine. Host writes come in between. After
 * every step the invariants of {@link SimMachine#check} hold, the guest reads what the strategy promises (its own
 * private words kept in place, zero after a legacy conversion with discard) and gets the right hypercall answers. On
 * SEV-SNP the guest validates a page before each private access (PVALIDATE, a page already validated being fine), and
 * a word is checked only where the page has not changed owner since it was written: the hardware shows ciphertext or
 * garbage there.
 */
class GuestProgramConversionTest {
    private static final int SEEDS = 3;
    private static final int STEPS = 30;
    /** What KVM answers in rax for a MAP_GPA_RANGE it refuses itself (-KVM_EINVAL): no exit reaches the VMM. */
    private static final long KVM_EINVAL = -22;

    static Stream<Arguments> setupsAndSeeds() {
        return SimSetup.all().stream().flatMap(s -> LongStream.range(0, SEEDS).mapToObj(seed -> Arguments.of(s, seed)));
    }

    @ParameterizedTest(name = "{0} seed {1}")
    @MethodSource("setupsAndSeeds")
    void theGuestSeesWhatTheStrategyPromises(SimSetup setup, long seed) {
        Random random = new Random(seed * 7_919 + setup.hashCode());
        PageState low = random.nextBoolean() ? PageState.PRIVATE : PageState.SHARED;
        AtomicLong lastAnswer = new AtomicLong(Long.MIN_VALUE);
        try (SimMachine m = new SimMachine(setup, SimMachine.Layout.standard(low, PageState.SHARED, PageState.PRIVATE), seed);
             GuestDriver guest = new GuestDriver(m.vm, (exit, context) -> {
                 ConversionOutcome o = m.handle(exit, context + " exit " + exit);
                 if (exit instanceof VcpuExit.Hypercall) lastAnswer.set(o.guestAnswer());
                 return o;
             })) {
            m.enableMapGpaRangeExits();
            ExitGenerator exits = new ExitGenerator(random, m);
            for (int step = 0; step < STEPS; step++) {
                String context = setup + " seed " + seed + " step " + step;
                long gpa = exits.ramPage();
                long word = wordAddress(gpa);
                long value = random.nextLong() | 1;
                AtomicLong seen = new AtomicLong();
                int what = random.nextInt(setup.isSnp() ? 6 : 4);
                switch (what) {
                    case 0 -> {
                        m.hostWrite(gpa, value, context + " host write 0x" + Long.toHexString(gpa));
                    }
                    case 1 -> {
                        // A MAP_GPA_RANGE from the guest; KVM itself refuses unaligned, empty and wrapping ones.
                        VcpuExit.Hypercall h = exits.hypercall();
                        long g = h.arg(0), n = h.arg(1), attrs = h.arg(2);
                        lastAnswer.set(Long.MIN_VALUE);
                        guest.run(cpu -> seen.set(cpu.mapGpaRange(g, n, attrs)), context + " guest " + h);
                        boolean kvmRefuses = (g & (P - 1)) != 0 || n == 0 || Long.compareUnsigned((g >>> 12) + n, g >>> 12) <= 0;
                        assertEquals(kvmRefuses ? KVM_EINVAL : lastAnswer.get(), seen.get(), context + ": the guest's answer to " + h);
                        context += " " + h;
                    }
                    case 2 -> {
                        // The guest writes its word with the access KVM derives (sw-protected) or a private access (SNP).
                        PageState face = setup.isSnp() ? PageState.PRIVATE : m.regionAt(gpa).expected(m.regionAt(gpa).page(gpa));
                        guest.run(cpu -> {
                            if (setup.isSnp()) cpu.pvalidate(gpa, P, true);
                            cpu.write(word, le(value));
                        }, context + " guest write 0x" + Long.toHexString(gpa));
                        m.guestWrote(gpa, face, value);
                        context += " guest write " + face + " 0x" + Long.toHexString(gpa);
                    }
                    case 3 -> {
                        guest.run(cpu -> {
                            if (setup.isSnp()) cpu.pvalidate(gpa, P, true);
                            seen.set(le(cpu.read(word, 8)));
                        }, context + " guest read 0x" + Long.toHexString(gpa));
                        PageState face = setup.isSnp() ? PageState.PRIVATE : m.regionAt(gpa).expected(m.regionAt(gpa).page(gpa));
                        long want = m.expectedWord(gpa, face);
                        if (m.knows(gpa, face))
                            assertEquals(want, seen.get(), context + ": the guest's " + face + " read at 0x" + Long.toHexString(gpa));
                    }
                    case 4 -> {
                        guest.run(cpu -> cpu.writeShared(word, le(value)), context + " guest shared write 0x" + Long.toHexString(gpa));
                        m.guestWrote(gpa, PageState.SHARED, value);
                    }
                    default -> {
                        guest.run(cpu -> seen.set(le(cpu.readShared(word, 8))), context + " guest shared read 0x" + Long.toHexString(gpa));
                        long want = m.expectedWord(gpa, PageState.SHARED);
                        if (m.knows(gpa, PageState.SHARED))
                            assertEquals(want, seen.get(), context + ": the guest's shared read at 0x" + Long.toHexString(gpa));
                    }
                }
                m.check(context);
            }
        }
    }
}
