package org.janus.guests.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.janus.machine.RunSummary;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every guest program on every platform it runs on (none, sw-protected, sev-snp) under every kernel profile of the
 * software KVM, and so under both memory strategies: in place on {@code inplace} (guest-memfd), legacy on
 * {@code 7.3}, {@code 6.12} and {@code inplace-off}. The programs check their own data, so a wrong conversion fails
 * the VM; on top, each run's conversions are counted against what the program asked for.
 */
class GuestProgramMatrixTest {
    static final int VCPUS = 2;

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (String profile : Vms.PROFILES) {
            for (String platform : List.of("none", "sw-protected", "sev-snp")) {
                boolean privateMemory = !platform.equals("none");
                out.add(Arguments.of(HelloFactory.NAME, platform, profile));
                out.add(Arguments.of(ScriptFactory.NAME, platform, profile));
                if (privateMemory) {
                    out.add(Arguments.of(ConversionStormFactory.NAME, platform, profile));
                    out.add(Arguments.of(FramebufferFactory.NAME, platform, profile));
                }
                if (platform.equals("sev-snp")) out.add(Arguments.of(LinuxSnpBootFactory.NAME, platform, profile));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} on {1}, profile {2}")
    @MethodSource("matrix")
    void theProgramEndsWellAndAskedForWhatItDid(String program, String platform, String profile) throws Exception {
        boolean inPlace = profile.equals("inplace");
        String options = switch (program) {
            case "conversion-storm" -> "\"seed\": 11, \"iterations\": 12, \"pagesPerRange\": 4, \"regions\": [\"ram-high\"]";
            case "linux-snp-boot" -> "\"accept\": \"8M\", \"chunk\": \"2M\", \"swiotlb\": \"1M\", \"seed\": 5";
            case "framebuffer" -> "\"size\": \"1M\", \"frames\": 4, \"seed\": 3";
            case "script" -> "\"steps\": " + script(platform, inPlace);
            default -> "";
        };
        RunSummary s = Vms.run(Vms.manager(), Vms.spec(platform, profile, VCPUS, program, options));
        String what = program + " on " + platform + "/" + profile + ": " + s.end() + "\n" + s.console();
        assertTrue(s.endedNormally(), what);
        // The script asks to make MMIO private once, expecting the refusal; nothing else is refused.
        boolean refusesOnce = program.equals("script") && !platform.equals("none");
        assertEquals(refusesOnce ? 1 : 0, Vms.refused(s), what + s.conversions());
        if (!platform.equals("none")) assertTrue(s.backend().startsWith(Vms.BACKEND_BY_PROFILE.get(profile)), s.backend());
        if (platform.equals("sev-snp")) {
            assertEquals(Optional.of(true), s.digestMatches(), "the firmware's digest is the expected one: " + s.launchDigest()
                    + " vs " + s.expectedDigest());
        } else {
            assertEquals("", s.launchDigest() + s.expectedDigest(), platform + " measures nothing");
        }
        Map<String, Long> done = Vms.done(s);
        switch (program) {
            case "hello" -> {
                for (int v = 0; v < VCPUS; v++) assertTrue(s.console().contains("hello from vcpu " + v), what);
            }
            case "conversion-storm" -> {
                // SEV-SNP loses a page's plaintext at every change of owner, in place as in legacy memory.
                String contents = platform.equals("sev-snp") ? "lost" : inPlace ? "preserved" : "zeroed";
                assertTrue(s.console().contains("contents " + contents), what);
                assertEquals(VCPUS * 12L, done.get("map-gpa-range/to-private"), what + done);
                assertEquals(VCPUS * 12L, done.get("map-gpa-range/to-shared"), what + done);
            }
            case "framebuffer" -> {
                assertTrue(s.console().contains(inPlace && !platform.equals("sev-snp") ? "contents preserved across every share and unshare"
                        : "contents NOT preserved across conversions"), what);
                assertEquals(4L, done.get("map-gpa-range/to-private"), what + done);
                assertEquals(4L, done.get("map-gpa-range/to-shared"), what + done);
            }
            case "script" -> {
                assertEquals(OptionalInt.of(0), s.guestExitCode(), what);
                assertTrue(s.console().contains("script: " + platform + " done"), what);
                if (!platform.equals("none")) {
                    // One conversion each way in RAM, and the MMIO hole: refused to private (the script expects it), skipped to shared.
                    assertEquals(1L, done.get("map-gpa-range/to-private"), what + done + s.conversions());
                    assertEquals(2L, done.get("map-gpa-range/to-shared"), what + done);
                }
            }
            case "linux-snp-boot" -> {
                assertEquals(OptionalInt.of(0), s.guestExitCode(), what);
                assertTrue(s.console().contains("Run /init as init process: 2 vCPUs up, 8 MiB accepted"), what);
                // 4 chunks of 2 MiB: each vCPU accepts one by MAP_GPA_RANGE and touches the other page by page.
                assertEquals(2L, done.get("map-gpa-range/to-private"), what + done);
                assertEquals(2L * 512, done.get("memory-fault/to-private"), what + done);
                // The boot mailbox, GHCBs (one each), the SWIOTLB region, the unaccepted memory handed to the host.
                assertEquals(VCPUS + 3L, done.get("map-gpa-range/to-shared"), what + done);
                for (int v = 0; v < VCPUS; v++) assertTrue(s.console().contains("[vcpu " + v + "] accepted 4 MiB in 2 chunks: 1 by"
                        + " page-state change (MAP_GPA_RANGE), 1 by touching"), what);
            }
            default -> throw new IllegalArgumentException(program);
        }
    }

    /**
     * Writes, converts and checks a 2 MiB range at 16 MiB: private and back where there is private memory (the
     * contents kept in place, zero after a legacy conversion, never the plaintext on SEV-SNP), then asks to make MMIO
     * private (refused) and shared (skipped), prints and writes exit code 0.
     */
    static String script(String platform, boolean inPlace) {
        String priv = platform.equals("sev-snp") ? "private" : "auto";
        String shared = platform.equals("sev-snp") ? "shared" : "auto";
        List<String> steps = new ArrayList<>();
        if (platform.equals("none")) {
            steps.add("{\"op\":\"write\",\"gpa\":\"16M\",\"size\":\"2M\",\"pattern\":\"0x5a\"}");
            steps.add("{\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"2M\",\"pattern\":\"0x5a\"}");
        } else {
            steps.add("{\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"2M\",\"to\":\"private\"}");
            steps.add("{\"op\":\"write\",\"gpa\":\"16M\",\"size\":\"2M\",\"pattern\":\"0xa5\",\"access\":\"" + priv + "\"}");
            steps.add("{\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"2M\",\"pattern\":\"0xa5\",\"access\":\"" + priv + "\"}");
            steps.add("{\"op\":\"convert\",\"gpa\":\"0x1000000\",\"size\":\"0x200000\",\"to\":\"shared\",\"pageSize\":\"4K\"}");
            if (platform.equals("sev-snp"))
                steps.add("{\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"2M\",\"pattern\":\"0xa5\",\"not\":true,\"access\":\"shared\"}");
            else steps.add("{\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"2M\",\"pattern\":\"" + (inPlace ? "0xa5" : "0") + "\",\"access\":\"" + shared + "\"}");
            steps.add("{\"op\":\"convert\",\"gpa\":\"0xfec00000\",\"size\":\"4K\",\"to\":\"private\",\"expect\":\"EINVAL\"}");
            steps.add("{\"op\":\"convert\",\"gpa\":\"0xfec00000\",\"size\":\"4K\",\"to\":\"shared\"}");
        }
        steps.add("{\"op\":\"print\",\"text\":\"script: " + platform + " done\"}");
        steps.add("{\"op\":\"out\",\"port\":\"0xf4\",\"value\":0}");
        return "[" + String.join(", ", steps) + "]";
    }
}
