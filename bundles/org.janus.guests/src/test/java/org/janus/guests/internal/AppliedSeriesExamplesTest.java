package org.janus.guests.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.janus.machine.RunSummary;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.platform.snp.testdata.GoldenData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The examples on the kernel profiles of the in-place series as applied for 7.4: each spec with its {@code kvm.profile}
 * set to {@code 7.4}, {@code 7.4-inplace} or {@code 7.4-novmattr} and {@code memory.backend} to {@code auto}, run
 * through the machine. Auto must choose the legacy backend where the mode is off (the build's default
 * gmem_in_place_conversion=N) and the guest-memfd backend where it is on (=Y, or the build without
 * CONFIG_KVM_VM_MEMORY_ATTRIBUTES).
 */
class AppliedSeriesExamplesTest {
    static final Path EXAMPLES = GoldenData.repositoryRoot().resolve("examples");

    /** The example's text on {@code profile} with the backend left to the machine. */
    static String onProfile(String example, String profile) throws Exception {
        String json = Files.readString(EXAMPLES.resolve(example));
        String changed = json.replaceFirst("\"profile\": \"[^\"]+\"", "\"profile\": \"" + profile + "\"")
                .replaceFirst("\"backend\": \"[^\"]+\"", "\"backend\": \"auto\"")
                .replace("\"firmware\": \"OVMF.fd\"", "\"firmware\": \"" + Vms.OVMF + "\"");
        assertTrue(changed.contains("\"profile\": \"" + profile + "\"") && changed.contains("\"backend\": \"auto\""), changed);
        return changed;
    }

    static RunSummary run(String spec) throws Exception {
        VmManagerImpl m = Vms.manager();
        String id = m.create(SpecReader.read(spec, EXAMPLES));
        m.start(id);
        return m.awaitEnd(id, Vms.WAIT);
    }

    @ParameterizedTest(name = "snp-inplace.json on {0}: {1}")
    @CsvSource({"7.4, legacy, 'legacy, from a staging buffer'", "7.4-inplace, guest-memfd, 'in place, uaddr 0'",
                "7.4-novmattr, guest-memfd, 'in place, uaddr 0'"})
    void theSevSnpExampleBootsWithTheBackendTheModeAllows(String profile, String backend, String launch) throws Exception {
        Vms.requireOvmf();
        RunSummary s = run(onProfile("snp-inplace.json", profile));
        String what = s.end() + "\n" + s.launch() + "\n" + s.console();
        assertTrue(s.endedNormally(), what);
        assertTrue(s.backend().startsWith(backend + " "), s.backend());
        assertTrue(s.launch().contains("SEV-SNP launch finished (" + launch + ")"), s.launch());
        assertEquals(Optional.of(true), s.digestMatches(), "firmware " + s.launchDigest() + ", expected " + s.expectedDigest());
        assertEquals(0, Vms.refused(s), s.conversions().toString());
    }

    @ParameterizedTest(name = "sw-protected-inplace.json on {0}: {1}")
    @CsvSource({"7.4, legacy, zeroed", "7.4-inplace, guest-memfd, preserved", "7.4-novmattr, guest-memfd, preserved"})
    void theSoftwareProtectedExampleConvertsWithTheBackendTheModeAllows(String profile, String backend, String contents)
            throws Exception {
        RunSummary s = run(onProfile("sw-protected-inplace.json", profile));
        String what = s.end() + "\n" + s.console();
        assertTrue(s.endedNormally(), what);
        assertTrue(s.backend().startsWith(backend + " "), s.backend());
        assertTrue(s.console().contains("contents " + contents + " as expected"), what);
        assertEquals(0, Vms.refused(s), s.conversions().toString());
    }

    @ParameterizedTest(name = "plain.json on {0}")
    @CsvSource({"7.4", "7.4-inplace", "7.4-novmattr"})
    void thePlainExampleRunsOnEveryBuild(String profile) throws Exception {
        RunSummary s = run(onProfile("plain.json", profile));
        assertTrue(s.endedNormally(), s.end() + "\n" + s.console());
        assertTrue(s.console().contains("hello from vcpu 0") && s.console().contains("hello from vcpu 1"), s.console());
    }
}
