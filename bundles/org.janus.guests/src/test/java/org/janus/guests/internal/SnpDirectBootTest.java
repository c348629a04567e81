package org.janus.guests.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.janus.machine.RunSummary;
import org.janus.machine.internal.MeasureCommand;
import org.janus.machine.internal.RunCommand;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.platform.snp.testdata.GoldenData;
import org.janus.platform.snp.testdata.GoldenData.AmdSevDigest;
import org.janus.platform.snp.testdata.GoldenData.AmdSevDirectBoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * examples/snp-direct-boot.json through the machine: an SEV-SNP measured direct boot of Debian's real
 * OVMF.amdsev.fd (kernel, initrd and command line hashed into its SNP_KERNEL_HASHES page) on the software KVM, in
 * place and legacy, with linux-snp-boot running after the launch. The firmware's digest, the one computed ahead and
 * the one sev-snp-measure computed for the same launch (the SEV-SNP platform's measurements.json) must be one.
 * Without the image (tools/fetch-ovmf-amdsev.sh) the tests are skipped with the reason, except in CI, where they fail.
 */
class SnpDirectBootTest {
    static final AmdSevDirectBoot GOLDEN = GoldenData.load().amdSevDirectBoot();
    static final Path EXAMPLE = GoldenData.repositoryRoot().resolve("examples/snp-direct-boot.json");

    /** The example's text, its firmware named by the path of the recorded image, on {@code profile} with {@code backend}. */
    static String example(String profile, String backend) throws Exception {
        String json = Files.readString(EXAMPLE);
        String firmware = "\"firmware\": \"" + GOLDEN.image().name() + "\"";
        String machine = "\"profile\": \"inplace\"";
        String memory = "\"backend\": \"guest-memfd\"";
        assertTrue(json.contains(firmware) && json.contains(machine) && json.contains(memory), json);
        return json.replace(firmware, "\"firmware\": \"" + GOLDEN.imagePath() + "\"")
                .replace(machine, "\"profile\": \"" + profile + "\"").replace(memory, "\"backend\": \"" + backend + "\"");
    }

    @ParameterizedTest(name = "profile {0}: {1}")
    @CsvSource({"inplace, guest-memfd, 'in place, uaddr 0'", "7.3, legacy, 'legacy, from a staging buffer'",
                "6.12, legacy, 'legacy, from a staging buffer'"})
    void theExampleBootsAndTheFirmwaresDigestIsTheExpectedOneAndSevSnpMeasures(String profile, String backend, String launch)
            throws Exception {
        AmdSevDigest golden = GOLDEN.ofExample();
        VmManagerImpl m = Vms.manager();
        // Read as `janus run` reads it: kernel and initrd relative to the example's directory.
        String id = m.create(SpecReader.read(example(profile, backend), EXAMPLE.getParent()));
        m.start(id);
        RunSummary s = m.awaitEnd(id, Vms.WAIT);
        String what = s.end() + "\n" + s.launch() + "\n" + s.console();
        System.out.printf("%s on profile %s (%s):%n  firmware digest  %s%n  expected digest  %s%n  sev-snp-measure  %s%n",
                EXAMPLE.getFileName(), profile, backend, s.launchDigest(), s.expectedDigest(), golden.digest());
        assertTrue(s.endedNormally(), what);
        assertEquals(OptionalInt.of(0), s.guestExitCode(), what);
        assertTrue(s.backend().startsWith(backend + " "), s.backend());
        assertTrue(s.launch().contains("SEV-SNP launch finished (" + launch + ")"), s.launch());
        assertEquals(golden.digest(), s.launchDigest(), "the firmware's digest is what sev-snp-measure computes: "
                + golden.command());
        assertEquals(golden.digest(), s.expectedDigest(), "computed ahead");
        assertEquals(Optional.of(true), s.digestMatches());
        assertTrue(s.console().contains("Run /init as init process: 2 vCPUs up, 64 MiB accepted"), what);
        assertEquals(0, Vms.refused(s), s.conversions().toString());
        Map<String, Long> done = Vms.done(s);
        assertEquals(16L, done.get("map-gpa-range/to-private"), done.toString());
        assertEquals(16L * 512, done.get("memory-fault/to-private"), done.toString());
    }

    /**
     * The example file itself, unchanged, as {@code janus run} and {@code janus measure} take it in a distribution
     * whose firmware/ holds OVMF.amdsev.fd (the runtime build puts it there).
     */
    @Test
    void janusRunAndMeasureOfTheExampleFileAgreeWithSevSnpMeasure(@TempDir Path home) throws Exception {
        Path firmware = Files.createDirectories(home.resolve("firmware"));
        Files.copy(GOLDEN.imagePath(), firmware.resolve(GOLDEN.image().name()));
        String before = System.getProperty("janus.home");
        System.setProperty("janus.home", home.toString());
        try {
            VmManagerImpl m = Vms.manager();
            String run = new RunCommand(m).apply(List.of(EXAMPLE.toString()));
            String measure = new MeasureCommand(m).apply(List.of(EXAMPLE.toString()));
            String golden = GOLDEN.ofExample().digest();
            assertEquals(golden, line(run, "  digest    "), run);
            assertEquals(golden, line(run, "  expected  "), run);
            assertTrue(run.contains("  measured  equal"), run);
            assertTrue(run.strip().endsWith("result: ok - the guest wrote exit code 0 to port 0xf4 (vCPU 0)"), run);
            assertEquals(golden, line(measure, MeasureCommand.DIGEST_PREFIX), measure);
            assertTrue(measure.contains("  vcpus     2 x EPYC-v4") && measure.contains("  firmware  "
                    + firmware.resolve(GOLDEN.image().name())), measure);
        } finally {
            if (before == null) System.clearProperty("janus.home");
            else System.setProperty("janus.home", before);
        }
    }

    private static String line(String text, String prefix) {
        Matcher matcher = Pattern.compile("(?m)^" + Pattern.quote(prefix) + "(\\S+)").matcher(text);
        assertTrue(matcher.find(), "no line starting '" + prefix + "' in\n" + text);
        return matcher.group(1);
    }
}
