package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code bin/janus run} on each spec of examples/, as a user runs it: a separate JVM on the packaged
 * distribution, whose exit code says whether the guest ended normally; and {@code bin/janus measure} on the SEV-SNP
 * ones. The SEV-SNP examples boot Debian's OVMF ({@value #OVMF}): without it they are skipped, except in CI, where
 * they fail.
 */
class ExamplesIT {
    static final String OVMF = "/usr/share/ovmf/OVMF.fd";
    /** The launch digests sev-snp-measure computed for Debian's OVMF images, recorded by the SEV-SNP platform's tests. */
    static final Path MEASUREMENTS = Path.of("../bundles/org.janus.platform.snp/src/test/resources/measurements.json");
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
        for (String name : new String[] {"plain.json", "sw-protected-inplace.json", "sw-protected-legacy.json", "snp-inplace.json",
                "snp-legacy.json", "snp-direct-boot.json", "direct-boot/kernel", "direct-boot/initrd"}) {
            assertEquals(Files.readString(examples.resolve(name)), Files.readString(dist.home().resolve("examples").resolve(name)), name);
        }
    }

    /**
     * The Linux example needs real KVM and images fetched by a script: where either is missing (this machine has no
     * /dev/kvm that registers the linux provider, and no guest-images/), the refusal is one line saying which.
     */
    @Test
    void theLinuxExampleSaysInOneLineWhatItLacks() throws Exception {
        Distribution.Run r = run("run", example("linux.json"));
        assertEquals(2, r.exitCode(), r.toString());
        List<String> lines = r.err().strip().lines().toList();
        assertEquals(1, lines.size(), r.toString());
        assertTrue(lines.get(0).startsWith("janus: run: ") && lines.get(0).contains("linux.json: $.boot: "), r.toString());
        assertTrue(lines.get(0).contains("needs real KVM") || lines.get(0).contains("tools/fetch-linux-guest.sh"), r.toString());
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

    static void requireOvmf() {
        if (Files.isReadable(Path.of(OVMF))) return;
        String reason = OVMF + " is not installed; Debian's ovmf package provides it (apt-get install -y ovmf)";
        if (System.getenv("CI") != null || Boolean.getBoolean("janus.ovmf.required")) fail(reason + " (required in CI)");
        assumeTrue(false, reason);
    }

    /** What sev-snp-measure computed for a QEMU launch of OVMF.fd with 2 vCPUs of model EPYC-v4. */
    static String sevSnpMeasureDigest() throws Exception {
        JsonObject data = JsonParser.parseString(Files.readString(MEASUREMENTS)).getAsJsonObject();
        for (JsonElement e : data.getAsJsonArray("measurements")) {
            JsonObject m = e.getAsJsonObject();
            if (m.get("image").getAsString().equals("OVMF.fd") && m.get("vcpus").getAsInt() == 2
                    && m.get("vcpuModel").getAsString().equals("EPYC-v4") && m.get("guestFeatures").getAsString().equals("0x1"))
                return m.get("digest").getAsString();
        }
        throw new AssertionError(MEASUREMENTS + " records no digest for OVMF.fd, 2 vCPUs, EPYC-v4");
    }

    private static String line(String text, String prefix) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(prefix) + "(\\S+)").matcher(text);
        assertTrue(m.find(), "no line starting '" + prefix + "' in\n" + text);
        return m.group(1);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"snp-inplace.json, guest-memfd, in place, inplace", "snp-legacy.json, legacy, legacy, 7.3"})
    void anSnpGuestBootsAndItsLaunchDigestIsTheExpectedOne(String example, String backend, String launch, String profile) throws Exception {
        requireOvmf();
        Distribution.Run r = run("run", example(example));
        assertEquals(0, r.exitCode(), r.toString());
        String out = r.out();
        assertTrue(out.contains("platform  sev-snp") && out.contains("memory    " + backend + " (") && out.contains("profile " + profile),
                r.toString());
        assertTrue(out.contains("SEV-SNP launch finished (" + launch), r.toString());
        String digest = line(out, "  digest    ");
        assertEquals(digest, line(out, "  expected  "), "the firmware's digest and the one computed ahead");
        assertEquals(sevSnpMeasureDigest(), digest, "what sev-snp-measure computes for a QEMU launch of the same guest");
        assertTrue(out.contains("  measured  equal"), r.toString());
        assertTrue(out.contains("| Run /init as init process: 2 vCPUs up, 64 MiB accepted, SWIOTLB and 2 GHCBs shared; exit code 0"), r.toString());
        // 32 chunks of 2 MiB: half accepted by MAP_GPA_RANGE, half by touch (PVALIDATE of a shared page: 512 memory faults
        // each); the boot mailbox, GHCBs, SWIOTLB and the unaccepted memory made shared.
        assertTrue(out.contains("map-gpa-range  to-private  16        16    0        32 MiB"), r.toString());
        assertTrue(out.contains("memory-fault   to-private  8192      8192  0        32 MiB"), r.toString());
        assertTrue(out.contains("map-gpa-range  to-shared   5         5     0"), r.toString());
        assertTrue(out.strip().endsWith("result: ok - the guest wrote exit code 0 to port 0xf4 (vCPU 0)"), r.toString());

        Distribution.Run m = run("measure", example(example));
        assertEquals(0, m.exitCode(), m.toString());
        assertEquals(digest, line(m.out(), "  expected  "), m.toString());
        assertTrue(m.out().contains("  vcpus     2 x EPYC-v4") && m.out().contains("  firmware  " + OVMF), m.toString());
    }

    /**
     * The measured direct boot example on Debian's OVMF.amdsev.fd, which the build put into the distribution's
     * firmware/ (or ovmf-amdsev installed): run and measure both give the digest sev-snp-measure computed for the
     * recorded image, kernel, initrd and command line. Without the image, or with another build of it than the one
     * recorded, skipped with the reason, except in CI, where it fails.
     */
    @Test
    void theMeasuredDirectBootExampleBootsWithTheDigestSevSnpMeasureComputes() throws Exception {
        JsonObject recorded = JsonParser.parseString(Files.readString(MEASUREMENTS)).getAsJsonObject().getAsJsonObject("amdSevDirectBoot");
        JsonObject image = recorded.getAsJsonObject("image");
        String name = image.get("name").getAsString();
        Path firmware = Files.isRegularFile(dist.home().resolve("firmware").resolve(name)) ? dist.home().resolve("firmware").resolve(name)
                : Path.of("/").resolve(image.get("path").getAsString());
        String reason = !Files.isRegularFile(firmware) ? name + " is neither in the distribution's firmware/ nor installed"
                + " (tools/fetch-ovmf-amdsev.sh; -Djanus.ovmf.amdsev.skip=true builds without it)"
                : !sha256(firmware).equals(image.get("sha256").getAsString()) ? firmware + " has SHA-256 " + sha256(firmware)
                + ", not the recorded " + image.get("sha256").getAsString() + " of " + image.get("package").getAsString() + " "
                + image.get("version").getAsString() : null;
        if (reason != null) {
            if (System.getenv("CI") != null || Boolean.getBoolean("janus.ovmf.required")) fail(reason + " (required in CI)");
            assumeTrue(false, reason);
        }
        String golden = null;
        for (JsonElement e : recorded.getAsJsonArray("digests")) {
            JsonObject d = e.getAsJsonObject();
            if (d.has("example") && d.get("example").getAsString().equals("snp-direct-boot.json")) golden = d.get("digest").getAsString();
        }
        assertTrue(golden != null, MEASUREMENTS + " records no digest for snp-direct-boot.json");

        Distribution.Run r = run("run", example("snp-direct-boot.json"));
        assertEquals(0, r.exitCode(), r.toString());
        assertEquals(golden, line(r.out(), "  digest    "), "the firmware's digest is what sev-snp-measure computes");
        assertEquals(golden, line(r.out(), "  expected  "), r.toString());
        assertTrue(r.out().contains("  measured  equal") && r.out().contains("SEV-SNP launch finished (in place"), r.toString());
        assertTrue(r.out().strip().endsWith("result: ok - the guest wrote exit code 0 to port 0xf4 (vCPU 0)"), r.toString());
        Distribution.Run m = run("measure", example("snp-direct-boot.json"));
        assertEquals(0, m.exitCode(), m.toString());
        assertEquals(golden, line(m.out(), "  expected  "), m.toString());
        assertTrue(m.out().contains("  firmware  " + firmware), m.toString());
    }

    private static String sha256(Path file) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    @Test
    void measureNamesTheProblemsOfASpecAndRefusesAPlatformThatMeasuresNothing() throws Exception {
        requireOvmf();
        Path bad = dist.home().resolve("bad-policy.json");
        Files.writeString(bad, Files.readString(examples.resolve("snp-inplace.json")).replace("\"0x30000\"", "\"0x10000\""));
        Distribution.Run r = run("measure", bad.toString());
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains("$.platform.policy: 0x10000 clears bit 17"), r.toString());
        assertEquals("", r.out(), "nothing measured");
        Distribution.Run plain = run("measure", example("plain.json"));
        assertEquals(1, plain.exitCode(), plain.toString());
        assertTrue(plain.err().contains("the none platform measures nothing"), plain.toString());
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
