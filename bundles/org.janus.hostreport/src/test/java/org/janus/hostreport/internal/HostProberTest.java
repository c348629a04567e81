package org.janus.hostreport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.janus.hostreport.HostReport;
import org.janus.hostreport.MemoryStrategy;
import org.janus.hostreport.PlatformStrategy;
import org.janus.hostreport.Platforms;
import org.janus.hostreport.VmTypeReport;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The report of the software KVM in each kernel profile and hardware, against what the reference says. */
class HostProberTest {
    private final HostProber prober = new HostProber();

    private HostReport probe(SimProfile profile, SimHardware hardware) {
        return prober.probe(SimKvm.create(profile, hardware));
    }

    private static MemoryStrategy strategy(HostReport report, String platform) {
        return report.platform(platform).orElseThrow().strategy();
    }

    private static String reason(HostReport report, String platform) {
        return report.platform(platform).orElseThrow().reason();
    }

    static Stream<Arguments> snpStrategyPerProfile() {
        return Stream.of(
                Arguments.of(SimProfile.INPLACE, MemoryStrategy.IN_PLACE, MemoryStrategy.SHARED_ONLY),
                Arguments.of(SimProfile.INPLACE_OFF, MemoryStrategy.LEGACY, MemoryStrategy.SHARED_ONLY),
                Arguments.of(SimProfile.K7_3, MemoryStrategy.LEGACY, MemoryStrategy.SHARED_ONLY),
                Arguments.of(SimProfile.K6_12, MemoryStrategy.LEGACY, MemoryStrategy.PLAIN),
                Arguments.of(SimProfile.K7_4, MemoryStrategy.LEGACY, MemoryStrategy.SHARED_ONLY),
                Arguments.of(SimProfile.K7_4_INPLACE, MemoryStrategy.IN_PLACE, MemoryStrategy.SHARED_ONLY),
                Arguments.of(SimProfile.K7_4_NOVMATTR, MemoryStrategy.IN_PLACE, MemoryStrategy.SHARED_ONLY));
    }

    @ParameterizedTest(name = "{0}: sev-snp {1}, none {2}")
    @MethodSource
    void snpStrategyPerProfile(SimProfile profile, MemoryStrategy snp, MemoryStrategy none) {
        HostReport report = probe(profile, SimHardware.AMD_SNP);
        assertEquals(snp, strategy(report, Platforms.SEV_SNP), reason(report, Platforms.SEV_SNP));
        // KVM's software-protected VM has private memory like SNP: the same interface decides.
        assertEquals(snp, strategy(report, Platforms.SW_PROTECTED), reason(report, Platforms.SW_PROTECTED));
        assertEquals(none, strategy(report, Platforms.NONE), reason(report, Platforms.NONE));
        assertEquals(MemoryStrategy.UNAVAILABLE, strategy(report, Platforms.TDX));
        assertEquals("KVM_CAP_VM_TYPES=0x1f lacks type 5", reason(report, Platforms.TDX));
        assertEquals(MemoryStrategy.UNAVAILABLE, strategy(report, Platforms.PKVM));
        assertTrue(reason(report, Platforms.PKVM).startsWith("not an arm64 host"), reason(report, Platforms.PKVM));
    }

    @Test
    void inPlaceReasonNamesTheCapabilityAndTheFlags() {
        HostReport report = probe(SimProfile.INPLACE, SimHardware.AMD_SNP);
        assertEquals("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x8 has PRIVATE: attributes live in each guest_memfd; "
                + "KVM_CAP_GUEST_MEMFD_FLAGS=0x3 (MMAP|INIT_SHARED)", reason(report, Platforms.SEV_SNP));
        VmTypeReport snp = report.vmType(VmType.X86_SNP).orElseThrow();
        assertEquals(0, snp.memoryAttributes(), "the VM-wide interface is off in the in-place mode");
        assertEquals(MemoryAttribute.PRIVATE, snp.guestMemfdMemoryAttributes());
        assertEquals(GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED, snp.guestMemfdFlags());
        assertEquals(1L << 12, snp.exitHypercall(), "MAP_GPA_RANGE can exit to userspace");
    }

    @Test
    void legacyReasonNamesBothAttributeCapabilities() {
        HostReport report = probe(SimProfile.K7_3, SimHardware.AMD_SNP);
        assertEquals("KVM_CAP_MEMORY_ATTRIBUTES=0x8 has PRIVATE, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x0: "
                + "attributes live in the VM", reason(report, Platforms.SEV_SNP));
        // 7.3 without the series: INIT_SHARED only for VMs without private memory.
        assertEquals(GuestMemfdFlags.MMAP, report.vmType(VmType.X86_SNP).orElseThrow().guestMemfdFlags());
        assertEquals(GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED,
                report.vmType(VmType.DEFAULT).orElseThrow().guestMemfdFlags());
    }

    @Test
    void linux612HasNoGuestMemfdFlagsSoANormalVmGetsPlainMemory() {
        HostReport report = probe(SimProfile.K6_12, SimHardware.AMD_SNP);
        VmTypeReport normal = report.vmType(VmType.DEFAULT).orElseThrow();
        assertEquals(0, normal.guestMemfdFlags());
        assertEquals(0, normal.guestMemfd(), "6.12 offers guest_memfd only to VMs with private memory");
        assertEquals(1, report.vmType(VmType.X86_SNP).orElseThrow().guestMemfd());
        assertTrue(reason(report, Platforms.NONE).endsWith("KVM_CAP_GUEST_MEMFD_FLAGS=0x0 lacks MMAP|INIT_SHARED"),
                reason(report, Platforms.NONE));
    }

    @Test
    void tdxHardwareOffersTdxAndNotSnp() {
        HostReport inPlace = probe(SimProfile.INPLACE, SimHardware.INTEL_TDX);
        assertEquals(MemoryStrategy.IN_PLACE, strategy(inPlace, Platforms.TDX));
        assertEquals(MemoryStrategy.UNAVAILABLE, strategy(inPlace, Platforms.SEV_SNP));
        assertEquals("KVM_CAP_VM_TYPES=0x23 lacks type 4", reason(inPlace, Platforms.SEV_SNP));
        assertEquals(MemoryStrategy.LEGACY, strategy(probe(SimProfile.K7_3, SimHardware.INTEL_TDX), Platforms.TDX));
    }

    @Test
    void plainX86HasOnlyTheSoftwareProtectedVmForPrivateMemory() {
        HostReport report = probe(SimProfile.INPLACE, SimHardware.X86);
        assertEquals(0x3, report.vmTypesMask());
        assertEquals(List.of(VmType.DEFAULT, VmType.X86_SW_PROTECTED), report.vmTypes().stream().map(VmTypeReport::type).toList());
        assertEquals(MemoryStrategy.IN_PLACE, strategy(report, Platforms.SW_PROTECTED));
        assertFalse(report.platform(Platforms.SEV_SNP).orElseThrow().available());
        assertFalse(report.platform(Platforms.TDX).orElseThrow().available());
    }

    @Test
    void arm64WithoutPkvmCannotCreateAProtectedVmAndSaysWhy() {
        HostReport report = probe(SimProfile.K7_3, SimHardware.ARM64);
        assertEquals(0, report.vmTypesMask(), "no KVM_CAP_VM_TYPES on arm64");
        assertTrue(report.armIpaSize() > 0);
        VmTypeReport isProtected = report.vmType(VmType.ARM_PROTECTED).orElseThrow();
        assertFalse(isProtected.created());
        assertTrue(isProtected.createError().startsWith("KVM_CREATE_VM failed: EINVAL"), isProtected.createError());
        assertEquals(MemoryStrategy.UNAVAILABLE, strategy(report, Platforms.PKVM));
        assertEquals(isProtected.createError(), reason(report, Platforms.PKVM));
        assertEquals(MemoryStrategy.SHARED_ONLY, strategy(report, Platforms.NONE));
        assertEquals("KVM_CAP_VM_TYPES=0x0 lacks type 4", reason(report, Platforms.SEV_SNP));
    }

    @Test
    void pkvmProtectedVmsHaveNoKvmMemoryAttributes() {
        HostReport report = probe(SimProfile.K7_3, SimHardware.ARM64_PKVM);
        VmTypeReport isProtected = report.vmType(VmType.ARM_PROTECTED).orElseThrow();
        assertTrue(isProtected.created(), isProtected.createError());
        assertEquals(0, isProtected.memoryAttributes());
        assertEquals(0, isProtected.guestMemfdMemoryAttributes());
        assertEquals(MemoryStrategy.SHARED_ONLY, strategy(report, Platforms.PKVM), reason(report, Platforms.PKVM));
        assertEquals(MemoryStrategy.PLAIN, strategy(probe(SimProfile.K6_12, SimHardware.ARM64_PKVM), Platforms.PKVM));
    }

    static Stream<Arguments> everyProfileAndHardware() {
        return Stream.of(SimProfile.values())
                .flatMap(p -> Stream.of(SimHardware.values()).map(h -> Arguments.of(p, h)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("everyProfileAndHardware")
    void everyVmCreatedForProbingIsClosedAgain(SimProfile profile, SimHardware hardware) {
        List<KvmVm> created = new ArrayList<>();
        HostReport report = prober.probe(recordingVms(SimKvm.create(profile, hardware), created));
        assertEquals(report.vmTypes().stream().filter(VmTypeReport::created).count(), created.size());
        for (KvmVm vm : created) {
            KvmException e = assertThrows(KvmException.class, () -> vm.checkExtension(KvmCap.GUEST_MEMFD));
            assertEquals(Errno.EBADF, e.errno(), "VM of type " + vm.type() + " is closed");
        }
        assertEquals(Platforms.ALL, report.platforms().stream().map(PlatformStrategy::platform).toList());
        assertTrue(report.platforms().stream().noneMatch(p -> p.reason().isBlank()));
        assertEquals(Kvm.API_VERSION, report.apiVersion());
    }

    @Test
    void aWrongApiVersionMakesEveryPlatformUnavailableWithoutCreatingVms() {
        List<KvmVm> created = new ArrayList<>();
        Kvm sim = recordingVms(SimKvm.create(SimProfile.INPLACE, SimHardware.AMD_SNP), created);
        Kvm version11 = (Kvm) Proxy.newProxyInstance(Kvm.class.getClassLoader(), new Class<?>[] {Kvm.class},
                (proxy, method, args) -> method.getName().equals("getApiVersion") ? 11 : invoke(sim, method, args));
        HostReport report = prober.probe(version11);
        assertEquals(11, report.apiVersion());
        assertTrue(created.isEmpty());
        for (PlatformStrategy p : report.platforms()) {
            assertEquals(MemoryStrategy.UNAVAILABLE, p.strategy());
            assertEquals("KVM_GET_API_VERSION=11, not 12: KVM unusable", p.reason());
        }
    }

    @Test
    void inPlaceNeedsMmapAndPrivatePlatformsNeedSomeAttributeInterface() {
        int mask = 0x13;
        VmTypeReport noMmap = new VmTypeReport(VmType.X86_SNP, "sev-snp", null, 1, 0,
                MemoryAttribute.PRIVATE, MemoryAttribute.PRIVATE, 0);
        PlatformStrategy legacy = HostProber.decide(Platforms.SEV_SNP, mask, 0, List.of(noMmap));
        assertEquals(MemoryStrategy.LEGACY, legacy.strategy());
        assertTrue(legacy.reason().startsWith("KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x8 has PRIVATE but "
                + "KVM_CAP_GUEST_MEMFD_FLAGS=0x0 lacks MMAP"), legacy.reason());

        VmTypeReport none = new VmTypeReport(VmType.X86_SNP, "sev-snp", null, 1, GuestMemfdFlags.MMAP, 0, 0, 0);
        PlatformStrategy unavailable = HostProber.decide(Platforms.SEV_SNP, mask, 0, List.of(none));
        assertEquals(MemoryStrategy.UNAVAILABLE, unavailable.strategy());
        assertEquals("no private memory: KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x0, KVM_CAP_MEMORY_ATTRIBUTES=0x0",
                unavailable.reason());

        VmTypeReport noGmem = new VmTypeReport(VmType.X86_SNP, "sev-snp", null, 0, 0, MemoryAttribute.PRIVATE, 0, 0);
        assertEquals(MemoryStrategy.UNAVAILABLE, HostProber.decide(Platforms.SEV_SNP, mask, 0, List.of(noGmem)).strategy());
    }

    /** The sim, with each VM it creates remembered so that the test can check it was closed. */
    private static Kvm recordingVms(Kvm kvm, List<KvmVm> created) {
        return (Kvm) Proxy.newProxyInstance(Kvm.class.getClassLoader(), new Class<?>[] {Kvm.class}, (proxy, method, args) -> {
            Object result = invoke(kvm, method, args);
            if (method.getName().equals("createVm")) created.add((KvmVm) result);
            return result;
        });
    }

    private static Object invoke(Object target, java.lang.reflect.Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
