package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.janus.memory.api.RamRegion;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.snp.measure.KernelHashes;
import org.janus.platform.snp.testdata.GoldenData;
import org.janus.platform.snp.testdata.GoldenData.AmdSevDigest;
import org.janus.platform.snp.testdata.GoldenData.AmdSevDirectBoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * SEV-SNP launches of Debian's real OVMF.amdsev.fd on the software KVM, with measured direct boot and without, in
 * place and legacy: the digest the modelled firmware computed from what it was given equals the one computed ahead
 * and the one sev-snp-measure computed (measurements.json, "amdSevDirectBoot"), and the launched guest finds the
 * SEV hash table where the image's hash table entry says OVMF looks for it.
 */
class AmdSevDirectBootLaunchTest {
    static final AmdSevDirectBoot GOLDEN = GoldenData.load().amdSevDirectBoot();
    /** The image is 4 MiB, so it loads at [0xffc00000, 4 GiB); its SEV metadata lies in [0x800000, 0x830000). */
    static final RamRegion BIOS = new RamRegion("bios", 1, SimSnpMachine.FOUR_GIB - 4 * SimSnpMachine.M, 4 * SimSnpMachine.M);
    static final List<RamRegion> RAM = List.of(SimSnpMachine.LOW, BIOS);

    static PlatformSpec spec(AmdSevDigest d) {
        long features = GoldenData.parseHex(d.guestFeatures());
        Map<String, Object> options = features == 1 ? Map.of() : Map.of(SnpOptions.VMSA_FEATURES, features & ~1L);
        return new PlatformSpec(options, d.vcpus(), d.vcpuModel(), GOLDEN.imagePath(), GOLDEN.input(d.kernel()),
                GOLDEN.input(d.initrd()), d.append());
    }

    @ParameterizedTest(name = "profile {0}: recorded launch {1}")
    @CsvSource({
        "inplace, 0",
        "7.3, 0",
        "6.12, 0",
        "inplace-off, 0",
        "inplace, 1",
        "7.3, 2",
        "inplace, 3",
        "7.3, 4",
        "inplace, 4",
    })
    void firmwareDigestEqualsTheExpectedDigestAndSevSnpMeasure(String profile, int index) throws Exception {
        AmdSevDigest expected = GOLDEN.digests().get(index);
        PlatformSpec spec = spec(expected);
        assertEquals(List.of(), new SevSnpPlatform().validate(spec));
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.byId(profile), spec)) {
            LaunchResult result = SimSnpMachine.launch(m, RAM);
            String firmware = HexFormat.of().formatHex(m.kvm.launchDigest(m.vm).orElseThrow());
            System.out.printf("SNP launch of %s on the sim, profile %s (%s), %s:%n  firmware digest  %s%n"
                    + "  expected digest  %s%n  sev-snp-measure  %s%n", GOLDEN.image().name(), profile,
                    m.inPlace ? "in place" : "legacy", expected, firmware, result.measurementHex(), expected.digest());
            assertEquals(result.measurementHex(), firmware, "the firmware measured what the platform planned");
            assertEquals(expected.digest(), firmware, "and that is what sev-snp-measure computes: " + expected.command());
            assertArrayEquals(m.platform.expectedMeasurement(spec).orElseThrow(), m.kvm.launchDigest(m.vm).orElseThrow());
            assertTrue(result.summary().contains(m.inPlace ? "in place, uaddr 0" : "legacy, from a staging buffer"),
                    result.summary());
            assertNull(m.platformState().get(SevSnpPlatform.STATE_SEV_DEVICE), "/dev/sev is closed after the launch");

            // Where OVMF looks: the address in the image's SEV hash table entry, inside the SNP_KERNEL_HASHES page.
            OvmfImage image = OvmfImage.read(GOLDEN.imagePath());
            OvmfImage.SevHashTableArea area = image.sevHashTable().orElseThrow();
            SevMetadataSection section = image.requireSevMetadata().stream()
                    .filter(s -> s.kind() == SevMetadataSection.Kind.SNP_KERNEL_HASHES).findFirst().orElseThrow();
            AtomicReference<byte[]> table = new AtomicReference<>();
            AtomicReference<byte[]> page = new AtomicReference<>();
            SimVcpu cpu = (SimVcpu) m.vcpus.get(0);
            cpu.load(g -> {
                table.set(g.readPrivate(area.gpa(), SevHashTable.PADDED_SIZE));
                page.set(g.readPrivate(section.gpa(), 4096));
                g.systemEvent(ExitReason.SYSTEM_EVENT_SEV_TERM, 0);
            });
            assertInstanceOf(VcpuExit.SystemEvent.class, cpu.run());
            if (expected.kernel() == null) {
                assertArrayEquals(new byte[4096], page.get(), "without a kernel the page is launched as zero pages");
            } else {
                KernelHashes hashes = KernelHashes.read(GOLDEN.input(expected.kernel()), GOLDEN.input(expected.initrd()),
                        expected.append());
                assertArrayEquals(SevHashTable.of(hashes), table.get(), "the guest finds the hash table where OVMF looks");
                assertArrayEquals(SevHashTable.sectionContents(hashes, 4096, (int) (area.gpa() - section.gpa())), page.get());
            }
        }
    }

    /** The 4 MiB image does not fit the 2 MiB under 4 GiB that suffices for Debian 12's OVMF.fd: one clear error. */
    @Test
    void ramThatDoesNotCoverTheImageIsRefusedAtTheLaunchWithTheRange() {
        PlatformSpec spec = spec(GOLDEN.ofExample());
        RamRegion twoMiB = new RamRegion("bios", 1, SimSnpMachine.FOUR_GIB - 2 * SimSnpMachine.M, 2 * SimSnpMachine.M);
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
            PlatformException e = assertThrows(PlatformException.class,
                    () -> SimSnpMachine.launch(m, List.of(SimSnpMachine.LOW, twoMiB)));
            assertTrue(e.getMessage().contains("[0xffc00000, 0x100000000) could not be loaded and made private"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("needs RAM under the OVMF image, which ends at 4 GiB"), e.getMessage());
        }
    }

    /** A kernel the launch hashes must be the file the spec names: another kernel measures differently. */
    @Test
    void anotherKernelGivesAnotherDigest() throws Exception {
        AmdSevDigest example = GOLDEN.ofExample();
        Path other = Files.createTempFile("kernel", ".bin");
        try {
            byte[] kernel = Files.readAllBytes(GOLDEN.input(example.kernel()));
            kernel[0] ^= 1;
            Files.write(other, kernel);
            PlatformSpec spec = new PlatformSpec(Map.of(), example.vcpus(), example.vcpuModel(), GOLDEN.imagePath(), other,
                    GOLDEN.input(example.initrd()), example.append());
            try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
                LaunchResult result = SimSnpMachine.launch(m, RAM);
                String firmware = HexFormat.of().formatHex(m.kvm.launchDigest(m.vm).orElseThrow());
                assertEquals(result.measurementHex(), firmware);
                assertTrue(!firmware.equals(example.digest()), "one flipped bit of the kernel changes the launch digest");
            }
        } finally {
            Files.delete(other);
        }
    }
}
