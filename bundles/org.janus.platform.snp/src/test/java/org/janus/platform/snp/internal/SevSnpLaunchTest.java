package org.janus.platform.snp.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.janus.platform.api.ConfidentialPlatform.ExitAction;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.snp.measure.KernelHashes;
import org.janus.platform.snp.testdata.GoldenData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Whole SEV-SNP launches of Debian's OVMF on the software KVM, in place and legacy: the digest the modelled
 * firmware computed from what it was actually given must equal the digest the platform computed ahead, and both
 * the one sev-snp-measure computed for a QEMU launch of the same image.
 */
class SevSnpLaunchTest {
    static final GoldenData GOLDEN = GoldenData.load();
    static final List<org.janus.memory.api.RamRegion> RAM = List.of(SimSnpMachine.LOW, SimSnpMachine.BIOS);

    static PlatformSpec spec(String image, int vcpus, String model, Map<String, Object> options) {
        GOLDEN.installedImage(image);
        return new PlatformSpec(options, vcpus, model, Path.of(GOLDEN.images().get(image).path()), null, null, null);
    }

    static String golden(String image, int vcpus, String model, String features) {
        return GOLDEN.measurements().stream()
                .filter(m -> m.image().equals(image) && m.vcpus() == vcpus && model.equals(m.vcpuModel())
                        && m.guestFeatures().equals(features))
                .findFirst().orElseThrow().digest();
    }

    @ParameterizedTest(name = "profile {0}: {1}, {2} vCPUs, {3}")
    @CsvSource({
        "inplace, OVMF.fd, 2, EPYC-v4",
        "7.3, OVMF.fd, 2, EPYC-v4",
        "inplace, OVMF_CODE.fd, 1, EPYC-Milan",
        "7.3, OVMF_CODE.fd, 4, EPYC-Genoa",
        "inplace-off, OVMF.fd, 1, EPYC-Genoa",
        "6.12, OVMF_CODE.fd, 2, EPYC-Milan",
    })
    void firmwareDigestEqualsTheExpectedDigestAndSevSnpMeasure(String profile, String image, int vcpus, String model) {
        PlatformSpec spec = spec(image, vcpus, model, Map.of());
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.byId(profile), spec)) {
            LaunchResult result = SimSnpMachine.launch(m, RAM);
            byte[] firmware = m.kvm.launchDigest(m.vm).orElseThrow();
            String hex = HexFormat.of().formatHex(firmware);
            System.out.printf("SNP launch on the sim, profile %s (%s), %s, %d vCPU %s:%n  firmware digest %s%n"
                    + "  expected digest %s%n  %s%n", profile, m.inPlace ? "in place" : "legacy", image, vcpus, model, hex,
                    result.measurementHex(), result.summary());
            assertEquals(result.measurementHex(), hex, "the firmware measured what the platform planned");
            assertEquals(golden(image, vcpus, model, "0x1"), hex, "and that is what sev-snp-measure computes");
            assertArrayEquals(m.platform.expectedMeasurement(spec).orElseThrow(), firmware);
            assertTrue(result.summary().contains(m.inPlace ? "in place" : "legacy"), result.summary());
            assertNull(m.platformState().get(SevSnpPlatform.STATE_SEV_DEVICE), "/dev/sev is closed after the launch");
        }
    }

    @Test
    void vmsaFeaturesAskedOfInit2AreMeasuredInEveryVmsa() {
        PlatformSpec spec = spec("OVMF.fd", 2, "EPYC-Milan", Map.of(SnpOptions.VMSA_FEATURES, 0x20));
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
            LaunchResult result = SimSnpMachine.launch(m, RAM);
            assertEquals(golden("OVMF.fd", 2, "EPYC-Milan", "0x21"), HexFormat.of().formatHex(m.kvm.launchDigest(m.vm).orElseThrow()));
            assertEquals(golden("OVMF.fd", 2, "EPYC-Milan", "0x21"), result.measurementHex());
        }
    }

    @Test
    void theLaunchedGuestFindsItsFirmwareSecretsAndCpuidPrivateAndCanTerminate() throws Exception {
        for (SimProfile profile : new SimProfile[] {SimProfile.INPLACE, SimProfile.K7_3}) {
            PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of());
            byte[] image = GOLDEN.installedImage("OVMF.fd");
            try (SimSnpMachine m = new SimSnpMachine(profile, spec)) {
                SimSnpMachine.launch(m, RAM);
                SimVcpu cpu = (SimVcpu) m.vcpus.get(0);
                AtomicReference<byte[]> resetVector = new AtomicReference<>();
                AtomicReference<byte[]> cpuid = new AtomicReference<>();
                AtomicReference<byte[]> secrets = new AtomicReference<>();
                AtomicReference<byte[]> secMem = new AtomicReference<>();
                cpu.load(g -> {
                    resetVector.set(g.readPrivate(SimSnpMachine.FOUR_GIB - 4096, 4096));
                    cpuid.set(g.readPrivate(0x80e000, 16));
                    secrets.set(g.readPrivate(0x80d000, 16));
                    secMem.set(g.readPrivate(0x800000, 4096));
                    g.systemEvent(ExitReason.SYSTEM_EVENT_SEV_TERM, 0x80b000);
                });
                VcpuExit exit = cpu.run();
                assertInstanceOf(VcpuExit.SystemEvent.class, exit);
                assertEquals(ExitAction.GUEST_TERMINATED, m.platform.onExit(m, cpu, exit));
                assertArrayEquals(Arrays.copyOfRange(image, image.length - 4096, image.length), resetVector.get(), profile.id());
                ByteBuffer table = ByteBuffer.wrap(cpuid.get()).order(ByteOrder.LITTLE_ENDIAN);
                assertTrue(table.getInt(0) > 0 && table.getInt(0) <= 64, "CPUID page entry count " + table.getInt(0));
                assertEquals(2, ByteBuffer.wrap(secrets.get()).order(ByteOrder.LITTLE_ENDIAN).getInt(0), "secrets page version");
                assertArrayEquals(new byte[4096], secMem.get());
                assertThrows(KvmException.class, cpu::getRegs, "the vCPU's state is protected after the launch");
            }
        }
    }

    @Test
    void anIdBlockForTheExpectedDigestIsAcceptedAndOneForAnotherIsRefused() throws Exception {
        KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
        gen.initialize(new ECGenParameterSpec("secp384r1"));
        KeyPair key = gen.generateKeyPair();
        PlatformSpec plain = spec("OVMF.fd", 2, "EPYC-v4", Map.of());
        byte[] expected = new SevSnpPlatform().expectedMeasurement(plain).orElseThrow();
        String hostData = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        for (boolean right : new boolean[] {true, false}) {
            byte[] ld = right ? expected : new byte[48];
            byte[][] id = idBlock(key, ld, SnpOptions.DEFAULT_POLICY);
            PlatformSpec spec = spec("OVMF.fd", 2, "EPYC-v4", Map.of(SnpOptions.ID_BLOCK, HexFormat.of().formatHex(id[0]),
                    SnpOptions.ID_AUTH, HexFormat.of().formatHex(id[1]), SnpOptions.HOST_DATA, hostData));
            try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
                if (right) {
                    LaunchResult r = SimSnpMachine.launch(m, RAM);
                    assertArrayEquals(expected, r.measurement());
                    assertArrayEquals(expected, m.kvm.launchDigest(m.vm).orElseThrow());
                } else {
                    PlatformException e = assertThrows(PlatformException.class, () -> SimSnpMachine.launch(m, RAM));
                    assertEquals("SNP_LAUNCH_FINISH", e.step());
                    assertTrue(e.getMessage().contains("BAD_MEASUREMENT"), e.getMessage());
                    assertEquals(0x0B, ((KvmException) e.getCause()).firmwareError());
                }
            }
        }
    }

    @Test
    void theFirmwareDigestChecksTheVcpuStateThePlatformSets() {
        // vCPUs left in KVM's own reset state (RDX 0x600, not the model's signature) measure differently:
        // the sim's VMSA comes from the registers, not from the platform's Vmsa class.
        PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of());
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
            m.platform.initVm(m);
            m.addRam(RAM);
            m.vcpus.add(m.vm.createVcpu(0));
            LaunchResult result = m.platform.launch(m);
            assertNotEquals(result.measurementHex(), HexFormat.of().formatHex(m.kvm.launchDigest(m.vm).orElseThrow()));
        }
    }

    @ParameterizedTest(name = "profile {0}: {1}")
    @CsvSource({
        "inplace, 0",
        "7.3, 0",
        "inplace, 1",
        "6.12, 1",
        "inplace, 2",
        "7.3, 3",
    })
    void measuredDirectBootOnTheSimEqualsSevSnpMeasure(String profile, int index, @TempDir Path dir) throws Exception {
        GoldenData.DirectBoot expected = GOLDEN.directBoot().get(index);
        GoldenData.DirectBootInputs inputs = GOLDEN.directBootInputs();
        Path firmware = Files.write(dir.resolve(inputs.image().name()), inputs.imageBytes());
        Path kernel = expected.kernel() == null ? null : Files.write(dir.resolve("kernel"), inputs.blob(expected.kernel()));
        Path initrd = expected.initrd() == null ? null : Files.write(dir.resolve("initrd"), inputs.blob(expected.initrd()));
        PlatformSpec spec = new PlatformSpec(Map.of(), expected.vcpus(), expected.vcpuModel(), firmware, kernel, initrd,
                expected.append());
        assertEquals(List.of(), new SevSnpPlatform().validate(spec));
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.byId(profile), spec)) {
            LaunchResult result = SimSnpMachine.launch(m, RAM);
            String firmwareDigest = HexFormat.of().formatHex(m.kvm.launchDigest(m.vm).orElseThrow());
            System.out.printf("SNP measured direct boot on the sim, profile %s (%s), %s:%n  firmware digest %s%n"
                    + "  expected digest %s%n", profile, m.inPlace ? "in place" : "legacy", expected, firmwareDigest,
                    result.measurementHex());
            assertEquals(result.measurementHex(), firmwareDigest, "the firmware measured what the platform planned");
            assertEquals(expected.digest(), firmwareDigest, "and that is what sev-snp-measure computes");
            assertArrayEquals(m.platform.expectedMeasurement(spec).orElseThrow(), m.kvm.launchDigest(m.vm).orElseThrow());
            assertEquals(kernel != null, m.log.stream().anyMatch(l -> l.contains("fw_cfg")), String.join("\n", m.log));

            SimVcpu cpu = (SimVcpu) m.vcpus.get(0);
            AtomicReference<byte[]> page = new AtomicReference<>();
            cpu.load(g -> {
                page.set(g.readPrivate(0x80f000, 4096));
                g.systemEvent(ExitReason.SYSTEM_EVENT_SEV_TERM, 0);
            });
            assertInstanceOf(VcpuExit.SystemEvent.class, cpu.run());
            byte[] expectedPage = kernel == null ? new byte[4096] : SevHashTable.sectionContents(KernelHashes.of(
                    inputs.blob(expected.kernel()), inputs.blob(expected.initrd()), expected.append()), 4096, 0xc00);
            assertArrayEquals(expectedPage, page.get(), "the guest finds the hash table where OVMF looks for it");
        }
    }

    @Test
    void aKernelWithAnOvmfWithoutKernelHashesIsRefusedAtTheKernel() {
        PlatformSpec debian = spec("OVMF.fd", 1, "EPYC-v4", Map.of());
        PlatformSpec spec = new PlatformSpec(Map.of(), 1, "EPYC-v4", debian.firmware(), debian.firmware(), null,
                "console=ttyS0");
        List<org.janus.platform.api.ConfidentialPlatform.Problem> problems = new SevSnpPlatform().validate(spec);
        assertEquals(1, problems.size(), problems.toString());
        assertEquals("$.images.kernel", problems.get(0).path());
        assertTrue(problems.get(0).message().contains("has no SNP_KERNEL_HASHES section"), problems.get(0).message());
        assertTrue(problems.get(0).message().contains(debian.firmware().toString()), problems.get(0).message());

        PlatformSpec noKernel = new PlatformSpec(Map.of(), 1, "EPYC-v4", debian.firmware(), null, debian.firmware(),
                "console=ttyS0");
        assertEquals(List.of("$.images.cmdline", "$.images.initrd"), new SevSnpPlatform().validate(noKernel).stream()
                .map(org.janus.platform.api.ConfidentialPlatform.Problem::path).sorted().toList());
    }

    /** An ID block for {@code ld} signed with {@code key}, and its ID authentication structure. */
    static byte[][] idBlock(KeyPair key, byte[] ld, long policy) throws Exception {
        ByteBuffer block = ByteBuffer.allocate(96).order(ByteOrder.LITTLE_ENDIAN);
        block.put(0, ld).putInt(0x50, 1).putLong(0x58, policy);
        Signature ecdsa = Signature.getInstance("SHA384withECDSAinP1363Format");
        ecdsa.initSign(key.getPrivate());
        ecdsa.update(block.array());
        byte[] rs = ecdsa.sign();
        ByteBuffer auth = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        auth.putInt(0, 1);
        auth.put(0x40, le72(new BigInteger(1, Arrays.copyOfRange(rs, 0, 48))));
        auth.put(0x40 + 72, le72(new BigInteger(1, Arrays.copyOfRange(rs, 48, 96))));
        ECPublicKey pub = (ECPublicKey) key.getPublic();
        auth.putInt(0x240, 2);
        auth.put(0x244, le72(pub.getW().getAffineX()));
        auth.put(0x244 + 72, le72(pub.getW().getAffineY()));
        return new byte[][] {block.array(), auth.array()};
    }

    private static byte[] le72(BigInteger v) {
        byte[] out = new byte[72];
        byte[] be = v.toByteArray();
        for (int i = 0; i < be.length && i < 72; i++) out[i] = be[be.length - 1 - i];
        return out;
    }
}
