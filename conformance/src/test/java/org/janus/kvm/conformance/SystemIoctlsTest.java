package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.Test;

/** /dev/kvm ioctls (reference §1) and the consistency of capability answers between system and VM scope (§3.1, §4). */
class SystemIoctlsTest extends KvmTargetTest {

    /** sizeof(struct kvm_run) (§1.4); the mmap size covers it plus the PIO/coalesced-MMIO pages. */
    static final int KVM_RUN_SIZE = 2352;

    @Test
    void apiVersionIs12() {
        assertEquals(Kvm.API_VERSION, kvm.getApiVersion());
    }

    @Test
    void vcpuMmapSizeCoversKvmRunInWholePages() {
        int size = kvm.getVcpuMmapSize();
        assertTrue(size >= KVM_RUN_SIZE, "KVM_GET_VCPU_MMAP_SIZE " + size + " < sizeof(kvm_run)");
        assertEquals(0, size % page, "KVM_GET_VCPU_MMAP_SIZE " + size + " is not a whole number of pages");
    }

    @Test
    void checkExtensionIsAnsweredOnVmFds() {
        // Every VM-scope answer this suite relies on needs KVM_CAP_CHECK_EXTENSION_VM.
        assertTrue(kvm.checkExtension(KvmCap.CHECK_EXTENSION_VM) > 0);
        assertEquals(kvm.checkExtension(KvmCap.CHECK_EXTENSION_VM.number()), kvm.checkExtension(KvmCap.CHECK_EXTENSION_VM),
                "raw and enum CHECK_EXTENSION disagree");
    }

    @Test
    void unknownCapabilityIsZero() {
        assertEquals(0, kvm.checkExtension(0x7fff), "an unknown capability must answer 0");
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            assertEquals(0, vm.checkExtension(0x7fff), "an unknown capability must answer 0 on a VM fd");
        }
    }

    @Test
    void vmTypesBitmaskMatchesCreateVm() {
        long mask = vmTypesMask();
        assertTrue((mask & 1) != 0, "VM_TYPES=0x" + Long.toHexString(mask) + " lacks the default type");
        for (long type = 0; type < 8; type++) {
            if ((mask & (1L << type)) != 0) {
                try (KvmVm vm = kvm.createVm(type)) {
                    assertEquals(type, vm.type(), "created VM reports another type");
                }
            } else {
                long t = type;
                expectErrno(Errno.EINVAL, "KVM_CREATE_VM(" + type + ") with VM_TYPES=0x" + Long.toHexString(mask),
                        () -> kvm.createVm(t).close());
            }
        }
    }

    @Test
    void armProtectedTypeOnlyOnArm64() {
        if (!isArm64()) {
            expectErrno(Errno.EINVAL, "KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED) off arm64",
                    () -> kvm.createVm(VmType.ARM_PROTECTED).close());
            return;
        }
        int ipaLimit = kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE);
        expectErrno(Errno.EINVAL, "KVM_CREATE_VM with an IPA size above KVM_CAP_ARM_VM_IPA_SIZE=" + ipaLimit,
                () -> kvm.createVm(ipaLimit + 1).close());
        assumeTrue(vmTypes().contains(VmType.ARM_PROTECTED),
                "pKVM does not accept protected VMs on this host (KVM_CREATE_VM(ARM_PROTECTED) is EINVAL)");
        try (KvmVm vm = kvm.createVm(VmType.ARM_PROTECTED)) {
            assertEquals(VmType.ARM_PROTECTED, vm.type() & ~VmType.ARM_IPA_SIZE_MASK);
        }
    }

    @Test
    void guestMemfdFlagsAreConsistentAcrossScopes() {
        long system = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS));
        if ((system & GuestMemfdFlags.INIT_SHARED) != 0) {
            assertTrue((system & GuestMemfdFlags.MMAP) != 0, "system scope: INIT_SHARED without MMAP");
        }
        for (VmCaps c : allCaps()) {
            assertEquals(0, c.gmemFlags() & ~system, c + ": VM-scope flags beyond the system-scope 0x" + Long.toHexString(system));
            if (c.initShared()) assertTrue(c.mmap(), c + ": INIT_SHARED without MMAP");
            if (c.gmemFlags() != 0) assertTrue(c.hasGuestMemfd(), c + ": guest_memfd flags without KVM_CAP_GUEST_MEMFD");
        }
        if (system != 0 && vmTypes().contains(VmType.DEFAULT)) {
            // guest_memfd_test.c test_guest_memfd_guest(): a default VM supports both flags wherever flags exist.
            assertEquals(GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED,
                    caps(VmType.DEFAULT).gmemFlags() & (GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED),
                    "default VM: " + caps(VmType.DEFAULT));
        }
    }

    @Test
    void memoryAttributeModesAreConsistent() {
        long system = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
        boolean anyInPlace = false;
        for (VmCaps c : allCaps()) {
            assertEquals(0, c.vmAttributes() & ~system, c + ": VM-scope attributes beyond the system-scope 0x" + Long.toHexString(system));
            assertFalse(c.legacy() && c.inPlace(), c + ": both the VM-wide and the per-gmem interface set PRIVATE");
            if (c.legacy() || c.inPlace()) assertTrue(c.hasGuestMemfd(), c + ": private memory without guest_memfd");
            // §8: INIT_SHARED is illegal for VMs with private memory in the legacy mode, and legal in the in-place mode.
            if (c.legacy()) assertFalse(c.initShared(), c + ": legacy mode reports INIT_SHARED");
            if (c.inPlace() && c.mmap()) assertTrue(c.initShared(), c + ": in-place mode without INIT_SHARED");
            anyInPlace |= c.inPlace();
        }
        if (anyInPlace) {
            // §4.1: with the in-place mode active, KVM_CAP_MEMORY_ATTRIBUTES answers 0.
            assertEquals(0, system & MemoryAttribute.PRIVATE, "in-place mode active, yet KVM_CAP_MEMORY_ATTRIBUTES reports PRIVATE");
        }
    }

    @Test
    void exitHypercallOffersOnlyMapGpaRange() {
        assumeTrue(isX86(), "KVM_CAP_EXIT_HYPERCALL is x86 only");
        long hc = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.EXIT_HYPERCALL));
        assumeTrue(hc != 0, "KVM_CAP_EXIT_HYPERCALL is 0 on this host");
        assertEquals(1L << 12, hc, "KVM_CAP_EXIT_HYPERCALL bitmask (bit 12 = KVM_HC_MAP_GPA_RANGE)");
    }

    @Test
    void supportedCpuidOnX86() {
        assumeTrue(isX86(), "KVM_GET_SUPPORTED_CPUID is x86 only");
        List<CpuidEntry> entries = kvm.getSupportedCpuid(256);
        assertFalse(entries.isEmpty());
        assertTrue(entries.stream().anyMatch(e -> e.function() == 0), "no leaf 0");
        KvmException e = expectErrno(Errno.E2BIG, "KVM_GET_SUPPORTED_CPUID with room for 1 entry",
                () -> kvm.getSupportedCpuid(1));
        assertEquals("KVM_GET_SUPPORTED_CPUID", e.operation());
    }
}
