package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.janus.kvm.sim.SimProfile;
import org.janus.platform.snp.internal.SevSnpPlatform;
import org.janus.platform.snp.measure.CpuSignature;
import org.janus.platform.snp.measure.ExpectedMeasurement;
import org.janus.platform.snp.measure.MeasurementOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code janus measure}: the expected launch digest of a spec, without building anything, and the spec's problems
 * named with their paths.
 */
class MeasureCommandTest {
    @TempDir static Path dir;

    @BeforeAll
    static void ovmf() { SnpMachineTest.requireOvmf(); }

    static MeasureCommand command() {
        return new MeasureCommand(new VmManagerImpl(Machines.services(Machines.sim(SimProfile.INPLACE)).addPlatform(new SevSnpPlatform())));
    }

    static Path write(String name, String json) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, json);
        return p;
    }

    @Test
    void theDigestIsTheOneComputedFromTheImageVcpusAndModel() throws Exception {
        // Relative firmware paths are relative to the spec; the KVM a spec names does not matter to its measurement.
        Files.copy(Path.of(SnpMachineTest.OVMF), dir.resolve("OVMF.fd"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path spec = write("four.json", """
                { "name": "four", "kvm": { "provider": "linux" }, "platform": { "id": "sev-snp" },
                  "memory": { "ram": [ { "name": "low", "gpa": 0, "size": "64M" }, { "name": "bios", "gpa": "0xffe00000", "size": "2M" } ] },
                  "vcpus": { "count": 4, "model": "EPYC-Milan" }, "images": { "firmware": "OVMF.fd" } }
                """);
        String text = command().apply(List.of(spec.toString()));
        String hex = HexFormat.of().formatHex(ExpectedMeasurement.compute(Path.of(SnpMachineTest.OVMF), 4,
                CpuSignature.ofQemuModel("EPYC-Milan"), new MeasurementOptions(MeasurementOptions.SNP_ACTIVE)).bytes());
        assertEquals("Janus measure: four (" + spec + ")\n  platform  sev-snp\n  vcpus     4 x EPYC-Milan\n  firmware  "
                + dir.resolve("OVMF.fd") + "\n" + MeasureCommand.DIGEST_PREFIX + hex + "\n", text);
        // The same spec as the machine runs it: its summary carries the same digest as expected and as measured.
        Path run = write("run.json", Files.readString(spec).replace("\"provider\": \"linux\"", "\"provider\": \"sim\", \"hardware\": \"amd-snp\"")
                .replace("\"images\"", "\"guest\": { \"program\": \"private-hello\" }, \"images\""));
        String summary = new RunCommand(new VmManagerImpl(SnpMachineTest.services(SnpMachineTest.sim("inplace")))).apply(List.of(run.toString()));
        assertTrue(summary.contains("  expected  " + hex + " (computed ahead from the spec)") && summary.contains("  digest    " + hex), summary);

        // A VM whose firmware would land outside RAM can never launch: it has no digest to print.
        Path nowhere = write("nowhere.json", Files.readString(spec).replace(", { \"name\": \"bios\", \"gpa\": \"0xffe00000\", \"size\": \"2M\" }", ""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> command().apply(List.of(nowhere.toString())));
        assertTrue(e.getMessage().contains("$.memory.ram: ") && e.getMessage().contains("which the RAM regions do not cover"), e.getMessage());
    }

    @Test
    void problemsAreNamedWithTheirPathsAndAPlatformWithoutMeasurementIsAFailure() throws Exception {
        Path bad = write("bad.json", """
                { "platform": { "id": "sev-snp", "policy": "0x10000", "colour": 1 },
                  "memory": { "ram": [ { "name": "low", "gpa": 0, "size": "64M" }, { "name": "bios", "gpa": "0xffe00000", "size": "2M" } ] },
                  "vcpus": { "count": 1, "model": "Pentium" }, "images": { "firmware": "missing.fd" } }
                """);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> command().apply(List.of(bad.toString())));
        for (String path : List.of("$.platform.policy", "$.platform.colour", "$.vcpus.model", "$.images.firmware"))
            assertTrue(e.getMessage().contains("\n  " + path + ": "), path + " in " + e.getMessage());

        Path plain = write("plain.json", """
                { "platform": { "id": "none" }, "memory": { "ram": [ { "name": "low", "gpa": 0, "size": "64M" } ] } }
                """);
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> command().apply(List.of(plain.toString())));
        assertTrue(none.getMessage().endsWith("the none platform measures nothing; its VMs have no launch digest"), none.getMessage());
        assertThrows(IllegalArgumentException.class, () -> command().apply(List.of()));
        assertThrows(IllegalArgumentException.class, () -> command().apply(List.of(dir.resolve("nothing.json").toString())));
    }
}
