package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code bin/janus run} on each spec of examples/, as a user runs it: a separate JVM on the packaged
 * distribution, whose exit code says whether the guest ended normally.
 */
class ExamplesIT {
    private static Distribution dist;
    private static Path examples;

    @BeforeAll
    static void copyTheDistribution() throws Exception {
        dist = Distribution.copy("dist-examples");
        examples = Path.of("../examples").toAbsolutePath().normalize();
        assertTrue(Files.isDirectory(examples), examples + " exists");
    }

    private static Distribution.Run run(String... args) throws Exception {
        return dist.janus(args);
    }

    private static String example(String name) { return examples.resolve(name).toString(); }

    @Test
    void theDistributionCarriesTheExamples() throws Exception {
        for (String name : new String[] {"plain.json", "sw-protected-inplace.json", "sw-protected-legacy.json"}) {
            assertEquals(Files.readString(examples.resolve(name)), Files.readString(dist.home().resolve("examples").resolve(name)), name);
        }
    }

    @Test
    void plainVmSaysHelloFromEachVcpu() throws Exception {
        Distribution.Run r = run("run", example("plain.json"));
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("| hello from vcpu 0") && r.out().contains("| hello from vcpu 1"), r.toString());
        assertTrue(r.out().contains("platform  none") && r.out().contains("Conversions:\n  none"), r.toString());
        assertTrue(r.out().strip().endsWith("result: ok - every vCPU halted (2 of 2)"), r.toString());
    }

    @Test
    void softwareProtectedInPlaceStormKeepsContents() throws Exception {
        Distribution.Run r = run("run", example("sw-protected-inplace.json"));
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("memory    guest-memfd ("), r.toString());
        assertTrue(r.out().contains("conversion-storm vcpu 0: 512 conversions") && r.out().contains("contents preserved as expected"), r.toString());
        assertTrue(r.out().contains("map-gpa-range  to-private  512       512   0"), r.toString());
        assertTrue(r.out().contains("map-gpa-range  to-shared   512       512   0"), r.toString());
        assertTrue(r.out().contains("result: ok"), r.toString());
    }

    @Test
    void softwareProtectedLegacyStormReadsZeroAfterConversion() throws Exception {
        Distribution.Run r = run("run", example("sw-protected-legacy.json"));
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("memory    legacy ("), r.toString());
        assertTrue(r.out().contains("profile 7.3"), r.toString());
        assertTrue(r.out().contains("contents zeroed as expected"), r.toString());
        assertTrue(r.out().contains("result: ok"), r.toString());
    }

    @Test
    void aSpecWithProblemsNamesEachAndExitsTwo() throws Exception {
        Path bad = dist.home().resolve("bad.json");
        Files.writeString(bad, """
                { "platform": { "id": "sw-protected", "colour": 1 },
                  "memory": { "ram": [ { "name": "a", "gpa": 0, "size": "64Q" } ] },
                  "vcpus": { "count": 0 },
                  "guest": { "program": "hello" } }
                """);
        Distribution.Run r = run("run", bad.toString());
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains("$.memory.ram[0].size: '64Q' is not a size"), r.toString());
        assertTrue(r.err().contains("$.vcpus.count: 0: a VM needs at least one vCPU"), r.toString());
        assertTrue(r.err().contains("$.platform.colour: unknown option"), r.toString());
        assertEquals("", r.out(), "nothing ran");
    }

    @Test
    void aGuestStillRunningAtTheTimeoutIsStoppedAndExitsOne() throws Exception {
        Path slow = dist.home().resolve("slow.json");
        Files.writeString(slow, Files.readString(examples.resolve("sw-protected-inplace.json"))
                .replace("\"iterations\": 256", "\"iterations\": 1000000"));
        Distribution.Run r = run("run", slow.toString(), "--timeout", "1");
        assertEquals(1, r.exitCode(), r.toString());
        assertTrue(r.out().contains("still running after 1.0 s (--timeout); stopped"), r.toString());
        assertTrue(r.err().contains("the guest did not end normally (result: failed"), r.toString());
    }
}
