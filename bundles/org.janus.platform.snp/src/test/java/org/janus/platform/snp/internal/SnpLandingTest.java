package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.janus.platform.api.ConfidentialPlatform.Problem;
import org.janus.platform.api.PlatformSpec;
import org.junit.jupiter.api.Test;

/**
 * A VM whose firmware or SEV metadata would land outside RAM can never launch: validation (and so {@code janus
 * measure}) refuses it at $.memory.ram instead of printing a digest for it.
 */
class SnpLandingTest {
    static final long M = 1 << 20;

    static Path ovmf() {
        Path p = Path.of("/usr/share/ovmf/OVMF.fd");
        if (!Files.isRegularFile(p)) {
            if (System.getenv("CI") != null) fail(p + " is missing (Debian's ovmf)");
            assumeTrue(false, p + " is missing (Debian's ovmf): skipped");
        }
        return p;
    }

    private static List<Problem> problems(List<PlatformSpec.RamRange> ram) {
        PlatformSpec spec = new PlatformSpec(Map.of("policy", "0x30000"), 2, "EPYC-v4", ovmf(), null, null, null, 4L << 30, ram);
        return new SevSnpPlatform().validate(spec);
    }

    @Test
    void firmwareAndMetadataMustLandInRam() {
        PlatformSpec.RamRange low = new PlatformSpec.RamRange(0, 64 * M);
        PlatformSpec.RamRange bios = new PlatformSpec.RamRange(0xffe00000L, 2 * M);
        assertEquals(List.of(), problems(List.of(low, bios)));

        List<Problem> noBios = problems(List.of(low));
        assertEquals(1, noBios.size(), noBios.toString());
        assertEquals("$.memory.ram", noBios.get(0).path());
        assertTrue(noBios.get(0).message().contains("loads at [0xffe00000, 0x100000000), which the RAM regions do not cover"),
                noBios.get(0).message());

        List<Problem> tooLittle = problems(List.of(new PlatformSpec.RamRange(0, 4 * M), bios));
        assertTrue(!tooLittle.isEmpty() && tooLittle.stream().allMatch(p -> p.path().equals("$.memory.ram")
                && p.message().contains("SEV metadata section")), tooLittle.toString());

        // Without a memory map (a platform spec built by hand) nothing is assumed.
        assertEquals(List.of(), problems(List.of()));
    }
}
