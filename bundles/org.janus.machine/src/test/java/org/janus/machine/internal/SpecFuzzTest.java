package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.junit.jupiter.api.Test;

/**
 * The machine spec as outside input: any text through {@link SpecReader#read} and then {@link SpecValidator} on the
 * services of a VmManagerImpl built outside a framework (none and sw-protected, both backends, the software KVM in
 * place, a guest program {@code hello}), as {@link SpecValidatorTest} does. The contract: a spec is either a plan or
 * a {@link SpecException} whose message is one line per problem, each problem at a JSON path with a sentence;
 * nothing else escapes, and each input is judged within a bounded time.
 *
 * <p>Regression mode (every build) runs the committed seeds in {@code SpecFuzzTestInputs/specs/}; fuzzing mode is in
 * docs/reliability.md.
 */
class SpecFuzzTest {
    /** A spec is a page of JSON; a fuzzer's megabyte says nothing a few KiB do not. */
    static final int MAX_INPUT = 64 << 10;
    /** Per input, far above what a spec takes (milliseconds), far below a hang. */
    static final long MAX_NANOS = 5_000_000_000L;

    private static final ServiceDirectory SERVICES = Machines.services(Machines.sim(SimProfile.INPLACE))
            .addGuest("hello", new Machines.TestGuest(c -> cpu -> cpu.hlt()));
    private static final SpecValidator VALIDATOR = new SpecValidator(SERVICES);
    /** Relative image names resolve here: an empty directory of this test's own. */
    private static final Path BASE = base();

    @FuzzTest
    void specs(byte[] input) {
        if (input.length > MAX_INPUT) return;
        String json = new String(input, StandardCharsets.UTF_8);
        long start = System.nanoTime();
        SpecReader.Result read = SpecReader.read(json, BASE);
        assertNotNull(read);
        if (read.spec() == null) assertFalse(read.problems().isEmpty(), "no spec and no problem for: " + json);
        read.problems().forEach(SpecFuzzTest::assertWellFormed);
        try {
            SpecValidator.Plan plan = VALIDATOR.validate(read);
            assertTrue(read.problems().isEmpty(), "a plan despite problems of form " + read.problems());
            assertNotNull(plan.spec());
            assertNotNull(plan.backend(), "a plan names its backend");
        } catch (SpecException e) {
            assertFalse(e.problems().isEmpty());
            e.problems().forEach(SpecFuzzTest::assertWellFormed);
            assertTrue(e.problems().containsAll(read.problems()), "the problems of form are kept");
            assertEquals(e.problems().size() + 1, e.getMessage().lines().count(),
                    "one line per problem after the heading: " + e.getMessage());
        }
        long took = System.nanoTime() - start;
        assertTrue(took < MAX_NANOS, "reading and validating took " + took / 1_000_000 + " ms");
    }

    // ---- regressions: inputs the fuzzer found, inlined ----

    private static final String REST = "\"platform\": { \"id\": \"none\" }, \"memory\": { \"ram\": [ { \"name\": \"low\", \"gpa\": 0, "
            + "\"size\": \"16M\" } ] }, \"guest\": { \"program\": \"hello\" } }";

    /** Found by fuzzing (seed provider-not-a-string): a provider of another type was read as null, and KvmChooser threw an NPE. */
    @Test
    void aProviderThatIsNoStringIsAProblemAtItsPath() {
        String json = "{ \"kvm\": { \"provider\": 1e400, \"profile\": \"inplace\" }, " + REST;
        specs(json.getBytes(StandardCharsets.UTF_8));
        SpecException e = org.junit.jupiter.api.Assertions.assertThrows(SpecException.class,
                () -> VALIDATOR.validate(SpecReader.read(json, BASE)));
        assertEquals("$.kvm.provider", e.problems().get(0).path(), e.getMessage());
        assertTrue(e.problems().get(0).message().contains("must be a string"), e.getMessage());
    }

    /** A null provider is an absent one (auto), as a null name is: no NPE, no silent plan without a KVM. */
    @Test
    void aNullProviderMeansAuto() throws SpecException {
        String json = "{ \"kvm\": { \"provider\": null, \"profile\": \"inplace\", \"hardware\": \"x86\" }, " + REST;
        specs(json.getBytes(StandardCharsets.UTF_8));
        assertEquals("auto", SpecReader.read(json, BASE).spec().kvm().provider());
    }

    static void assertWellFormed(SpecProblem p) {
        assertNotNull(p.path(), "a problem without a path: " + p);
        assertTrue(p.path().startsWith("$"), "a path is a JSON path from $: " + p);
        assertNotNull(p.message(), "a problem without a sentence: " + p);
        assertFalse(p.message().isBlank(), "a blank sentence: " + p);
    }

    private static Path base() {
        try {
            Path dir = Files.createTempDirectory("janus-spec-fuzz");
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException("no temporary directory for the spec fuzz target", e);
        }
    }
}
