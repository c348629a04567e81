package org.janus.platform.snp.internal;

import static org.janus.platform.snp.internal.SevSnpLaunchTest.RAM;
import static org.janus.platform.snp.internal.SevSnpLaunchTest.spec;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform.Problem;
import org.janus.platform.api.ConfidentialPlatform.Support;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.snp.testdata.GoldenData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SEV-SNP launch errors: each gives the kernel's errno (and firmware status where the firmware decided), and a
 * launch that fails leaves nothing behind: no SNP context, no measured page, no staging buffer, no /dev/sev.
 */
class SevSnpLaunchErrorTest {
    private static final int PAGE = 4096;
    private static final String STAGING = "janus-snp";

    static KvmException kvmCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) if (t instanceof KvmException k) return k;
        throw new AssertionError("no KvmException behind " + e, e);
    }

    /** The file descriptors of this process that are memfds the SNP launch made. */
    static List<String> launchMemfds() throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.contains(STAGING)) found.add(target);
                } catch (IOException gone) {
                    // closed while listing
                }
            }
        }
        return found;
    }

    @Test
    void aBadPolicyIsReportedByValidateAndRefusedByKvmWithEinval() {
        PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of(SnpOptions.POLICY, "0x10000"));
        SevSnpPlatform platform = new SevSnpPlatform();
        List<Problem> problems = platform.validate(spec);
        assertEquals(List.of("$.platform.policy"), problems.stream().map(Problem::path).toList());
        assertTrue(problems.get(0).message().contains("bit 17"), problems.toString());
        assertEquals(4, platform.validate(spec("OVMF.fd", 1, "EPYC-v4", Map.of(SnpOptions.POLICY, (double) (1L << 20 | 1L << 18)))).size(),
                "bit 17 clear, SMT clear, bit 18 not KVM's, single socket");

        try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
            // The platform refuses the spec before touching the VM ...
            PlatformException refused = assertThrows(PlatformException.class, () -> m.platform.initVm(m));
            assertTrue(refused.getMessage().contains("$.platform.policy"), refused.getMessage());
            assertTrue(m.platformState().isEmpty(), "nothing kept: " + m.platformState());
            // ... and KVM, asked anyway, answers EINVAL with no firmware status, and creates no SNP context.
            try (SevDevice sev = m.kvm.openSevDevice()) {
                m.vm.memoryEncryptOp(new SevCommand(SevCommand.INIT2, SnpCommands.init2(0), sev));
                for (long policy : new long[] {0x10000, 0x20000, 0x30000 | 1L << 20, 0x30000 | 1L << 18}) {
                    KvmException k = assertThrows(KvmException.class, () -> m.vm.memoryEncryptOp(new SevCommand(
                            SevCommand.SNP_LAUNCH_START, SnpCommands.launchStart(policy), sev)));
                    assertEquals(Errno.EINVAL, k.errno(), Long.toHexString(policy));
                    assertEquals(0, k.firmwareError(), "KVM refused it before the firmware saw it");
                }
                m.vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START, SnpCommands.launchStart(0x30000), sev));
            }
        }
    }

    @Test
    void anUpdateBeforeLaunchStartIsEinval() {
        PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of());
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec); SevDevice sev = m.kvm.openSevDevice()) {
            m.vm.memoryEncryptOp(new SevCommand(SevCommand.INIT2, SnpCommands.init2(0), sev));
            m.addRam(RAM);
            KvmException e = assertThrows(KvmException.class, () -> m.vm.memoryEncryptOp(new SevCommand(
                    SevCommand.SNP_LAUNCH_UPDATE, SnpCommands.launchUpdate(0x800, 0, PAGE, SnpPageType.ZERO), sev)));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(0, e.firmwareError());
            assertEquals(java.util.Optional.empty(), m.kvm.launchDigest(m.vm), "no launch happened");
        }
    }

    @Test
    void anUnalignedImageIsRefusedByValidateAndAnUnalignedUpdateByKvm(@TempDir Path dir) throws IOException {
        byte[] image = GoldenData.load().installedImage("OVMF.fd");
        Path odd = dir.resolve("OVMF-odd.fd");
        Files.write(odd, java.util.Arrays.copyOf(image, image.length + 100));
        PlatformSpec spec = new PlatformSpec(Map.of(), 1, null, odd, null, null, null);
        List<Problem> problems = new SevSnpPlatform().validate(spec);
        assertEquals(1, problems.size(), problems.toString());
        assertEquals("$.images.firmware", problems.get(0).path());
        assertTrue(problems.get(0).message().contains("4096"), problems.get(0).message());

        try (SimSnpMachine m = new SimSnpMachine(SimProfile.K7_3, spec("OVMF.fd", 1, "EPYC-v4", Map.of()))) {
            m.platform.initVm(m);
            m.addRam(RAM);
            SevDevice sev = (SevDevice) m.platformState().get(SevSnpPlatform.STATE_SEV_DEVICE);
            KvmException e = assertThrows(KvmException.class, () -> m.vm.memoryEncryptOp(new SevCommand(
                    SevCommand.SNP_LAUNCH_UPDATE, SnpCommands.launchUpdate((SimSnpMachine.FOUR_GIB - image.length) / PAGE,
                            0, image.length + 100, SnpPageType.NORMAL), sev)));
            assertEquals(Errno.EINVAL, e.errno());
            // The refused update measured nothing: the real launch still reaches the expected digest.
            m.addVcpus();
            LaunchResult r = m.platform.launch(m);
            assertArrayEquals(r.measurement(), m.kvm.launchDigest(m.vm).orElseThrow());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"inplace", "7.3"})
    void anUpdateOfASharedRangeIsEioAndChangesNothing(String profile) {
        PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of());
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.byId(profile), spec)) {
            m.platform.initVm(m);
            m.addRam(RAM);
            long gpa = 0x100000;
            m.convert(gpa, PAGE, PageState.SHARED);
            m.writeGuest(gpa, new byte[] {1, 2, 3});
            SevDevice sev = (SevDevice) m.platformState().get(SevSnpPlatform.STATE_SEV_DEVICE);
            KvmException e = assertThrows(KvmException.class, () -> m.vm.memoryEncryptOp(new SevCommand(
                    SevCommand.SNP_LAUNCH_UPDATE, SnpCommands.launchUpdate(gpa / PAGE, 0, PAGE, SnpPageType.ZERO), sev)));
            // kvm_gmem_populate refuses the shared page (EINVAL); snp_launch_update reports that as EIO.
            assertEquals(Errno.EIO, e.errno());
            assertEquals(0, e.firmwareError(), "the firmware never saw it");
            assertFalse(m.kvm.isPrivate(m.vm, gpa));
            assertArrayEquals(new byte[] {1, 2, 3}, m.readGuest(gpa, 3));
            m.addVcpus();
            LaunchResult r = m.platform.launch(m);
            assertArrayEquals(r.measurement(), m.kvm.launchDigest(m.vm).orElseThrow(), "the refused page was not measured");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"inplace", "7.3"})
    void aLaunchThatFailsPartWayLeavesNothingBehind(String profile) throws IOException {
        List<String> before = launchMemfds();
        PlatformSpec spec = spec("OVMF.fd", 2, "EPYC-v4", Map.of());
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.byId(profile), spec)) {
            m.platform.initVm(m);
            m.addRam(RAM);
            m.addVcpus();
            m.kvm.injectFault("KVM_SEV_SNP_LAUNCH_UPDATE", Errno.EIO, 7);
            PlatformException e = assertThrows(PlatformException.class, () -> m.platform.launch(m));
            assertEquals("SNP_LAUNCH_UPDATE", e.step());
            assertEquals(Errno.EIO, kvmCause(e).errno());
            assertEquals(before, launchMemfds(), "the staging buffer is gone");
            assertTrue(m.platformState().get(SevSnpPlatform.STATE_SEV_DEVICE) == null, "/dev/sev is closed");
            assertEquals(java.util.Optional.empty(), m.kvm.launchDigest(m.vm), "the launch never finished");
            PlatformException again = assertThrows(PlatformException.class, () -> m.platform.launch(m));
            assertTrue(again.getMessage().contains("initVm has not run"), again.getMessage());
        }
        assertEquals(before, launchMemfds());
    }

    @Test
    void theMemfdProbeSeesAStagingBufferWhileItIsOpen() throws IOException {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.AMD_SNP);
        List<String> before = launchMemfds();
        try (var staging = kvm.memfdCreate("janus-snp-launch-staging", PAGE)) {
            assertEquals(before.size() + 1, launchMemfds().size(), "the probe finds what it looks for");
        }
        assertEquals(before, launchMemfds());
    }

    @Test
    void ovmfCode4mIsRefusedBecauseItLacksSevMetadata() {
        GoldenData golden = GoldenData.load();
        golden.installedImage("OVMF_CODE_4M.fd");
        PlatformSpec spec = new PlatformSpec(Map.of(), 1, "EPYC-v4", Path.of(golden.images().get("OVMF_CODE_4M.fd").path()),
                null, null, null);
        SevSnpPlatform platform = new SevSnpPlatform();
        List<Problem> problems = platform.validate(spec);
        assertEquals(1, problems.size(), problems.toString());
        assertEquals("$.images.firmware", problems.get(0).path());
        assertTrue(problems.get(0).message().contains("no SEV metadata"), problems.get(0).message());
        assertTrue(problems.get(0).message().contains("OVMF_CODE_4M.fd"), problems.get(0).message());
        PlatformException e = assertThrows(PlatformException.class, () -> platform.expectedMeasurement(spec));
        assertTrue(e.getMessage().contains("no SEV metadata"), e.getMessage());
    }

    @Test
    void withoutRamUnderTheFirmwareTheLaunchSaysWhatIsMissing() throws IOException {
        List<String> before = launchMemfds();
        PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of());
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.K7_3, spec)) {
            PlatformException e = assertThrows(PlatformException.class, () -> SimSnpMachine.launch(m, List.of(SimSnpMachine.LOW)));
            assertTrue(e.getMessage().contains("4 GiB"), e.getMessage());
            assertEquals(before, launchMemfds());
        }
    }

    @Test
    void vmsaFeaturesTheHostDoesNotOfferAreRefusedBeforeInit2() {
        PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of(SnpOptions.VMSA_FEATURES, "0x2"));
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
            PlatformException e = assertThrows(PlatformException.class, () -> m.platform.initVm(m));
            assertTrue(e.getMessage().contains("lacks 0x2"), e.getMessage());
            assertTrue(m.platformState().isEmpty());
        }
    }

    @Test
    void supportNeedsTheSnpVmTypeAndInit2() {
        SevSnpPlatform platform = new SevSnpPlatform();
        Support none = platform.support(SimKvm.create(SimProfile.INPLACE, SimHardware.X86));
        assertFalse(none.supported());
        assertTrue(none.reason().contains("KVM_X86_SNP_VM"), none.reason());
        Support yes = platform.support(SimKvm.create(SimProfile.K7_3, SimHardware.AMD_SNP));
        assertTrue(yes.supported(), yes.reason());
        assertTrue(yes.reason().contains("0x20"), yes.reason());
    }

    @Test
    void validateNamesEveryProblemWithItsPath() {
        Map<String, Object> options = Map.of("polcy", 1, SnpOptions.HOST_DATA, "abcd", SnpOptions.ID_BLOCK,
                HexFormat.of().formatHex(new byte[96]), SnpOptions.POLICY, -5);
        PlatformSpec spec = new PlatformSpec(options, 0, "Opteron", null, Path.of("/vmlinuz"), null, "console=ttyS0");
        List<String> paths = new SevSnpPlatform().validate(spec).stream().map(Problem::path).sorted().toList();
        assertEquals(List.of("$.images.firmware", "$.images.kernel", "$.platform.hostData",
                "$.platform.idAuth", "$.platform.polcy", "$.platform.policy", "$.vcpus.count", "$.vcpus.model"), paths);
    }

    @Test
    void anSevTerminationEndsTheGuestAndOtherExitsAreNotThePlatformsToHandle() {
        PlatformSpec spec = spec("OVMF.fd", 1, "EPYC-v4", Map.of());
        try (SimSnpMachine m = new SimSnpMachine(SimProfile.INPLACE, spec)) {
            SevSnpPlatform p = m.platform;
            var vcpu = m.vm.createVcpu(0);
            m.vcpus.add(vcpu);
            assertEquals(org.janus.platform.api.ConfidentialPlatform.ExitAction.GUEST_TERMINATED, p.onExit(m, vcpu,
                    new org.janus.kvm.api.VcpuExit.SystemEvent(org.janus.kvm.api.ExitReason.SYSTEM_EVENT_SEV_TERM, new long[] {0x1000})));
            assertEquals(org.janus.platform.api.ConfidentialPlatform.ExitAction.UNHANDLED, p.onExit(m, vcpu,
                    new org.janus.kvm.api.VcpuExit.SystemEvent(org.janus.kvm.api.ExitReason.SYSTEM_EVENT_RESET, new long[0])));
            assertInstanceOf(String.class, m.log.get(0));
        }
    }
}
