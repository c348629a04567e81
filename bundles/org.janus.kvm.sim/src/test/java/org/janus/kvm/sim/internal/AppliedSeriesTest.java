package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.P;
import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.PagePin;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The in-place conversion series as applied for Linux 7.4 (reference §13): profile {@code 7.4} (built with
 * CONFIG_KVM_VM_MEMORY_ATTRIBUTES, gmem_in_place_conversion=N), {@code 7.4-inplace} (the same build, =Y) and
 * {@code 7.4-novmattr} (built without it).
 */
class AppliedSeriesTest {
    private static final long PRIV = MemoryAttribute.PRIVATE;
    private static final long BOTH = GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED;
    private static final String PARAMETER = "kvm.parameter.gmem_in_place_conversion";
    private static final long GPA = 0x10000;

    /** The VM types {@code kvm} creates: the VM_TYPES bits, or the default type and (pKVM) the protected one. */
    private static List<Long> vmTypes(SimKvm kvm) {
        List<Long> types = new ArrayList<>();
        long mask = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.VM_TYPES));
        for (int bit = 0; bit < 64; bit++) if ((mask & (1L << bit)) != 0) types.add((long) bit);
        if (mask == 0) types.add(VmType.DEFAULT);
        if (kvm.hardware() == SimHardware.ARM64_PKVM) types.add(VmType.ARM_PROTECTED);
        return types;
    }

    /**
     * The linux provider's recipe (LinuxKvmVm) through the API: KVM_SET_MEMORY_ATTRIBUTES2 with flags 1 on a
     * one-page guest_memfd tells whether the ioctl exists (EINVAL) or not (ENOTTY); PRIVATE then tells whether this
     * VM takes it.
     */
    private static long probeLikeTheLinuxProvider(KvmVm vm) {
        GuestMemfd scratch;
        try {
            scratch = vm.createGuestMemfd(P, 0);
        } catch (KvmException e) {
            return 0;
        }
        try (scratch) {
            KvmException invalid = null;
            try {
                scratch.setMemoryAttributes2(new MemoryAttributes2(0, P, 0, 1, new long[MemoryAttributes2.RESERVED_WORDS]));
            } catch (KvmException e) {
                invalid = e;
            }
            if (invalid == null || invalid.errno() != Errno.EINVAL) return 0;
            try {
                scratch.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV));
                return PRIV;
            } catch (KvmException e) {
                return 0;
            }
        }
    }

    @Test
    void theCapabilityHasTheSeriesNumberAndAgreesWithTheProbe() {
        for (SimProfile profile : SimProfile.values()) {
            for (SimHardware hardware : SimHardware.values()) {
                SimKvm kvm = SimKvm.create(profile, hardware);
                int number = new KernelRules(profile, hardware).gmemMemoryAttributesCapNumber();
                String where = profile.id() + "/" + hardware.id();
                int system = kvm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES);
                if (number < 0) assertEquals(0, system, where + ": no series, no capability");
                else assertEquals(system, kvm.checkExtension(number), where + ": system scope under number " + number);
                for (int other : new int[] {KernelRules.CAP_GMEM_MEMORY_ATTRIBUTES_V8, KernelRules.CAP_GMEM_MEMORY_ATTRIBUTES_APPLIED}) {
                    if (other != number) assertEquals(0, kvm.checkExtension(other), where + ": capability " + other);
                }
                for (long type : vmTypes(kvm)) {
                    try (KvmVm vm = kvm.createVm(type)) {
                        int answer = vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES);
                        String what = where + " " + VmType.name(type);
                        if (number >= 0) assertEquals(answer, vm.checkExtension(number), what + ": under number " + number);
                        if (hardware.isX86()) assertEquals(answer, probeLikeTheLinuxProvider(vm), what + ": the probe");
                    }
                }
            }
        }
    }

    @Test
    void theModuleParameterExistsOnlyInTheBuildWithVmAttributes() {
        for (SimHardware hardware : SimHardware.values()) {
            boolean x86 = hardware.isX86();
            assertEquals(x86 ? "N" : null, SimKvm.create(SimProfile.K7_4, hardware).hostDiagnostics().get(PARAMETER), hardware.id());
            assertEquals(x86 ? "Y" : null, SimKvm.create(SimProfile.K7_4_INPLACE, hardware).hostDiagnostics().get(PARAMETER), hardware.id());
            assertFalse(SimKvm.create(SimProfile.K7_4_NOVMATTR, hardware).hostDiagnostics().containsKey(PARAMETER), hardware.id());
            assertFalse(SimKvm.create(SimProfile.K7_3, hardware).hostDiagnostics().containsKey(PARAMETER), hardware.id());
            assertEquals("7.4.0-janus-sim", SimKvm.create(SimProfile.K7_4_NOVMATTR, hardware).hostDiagnostics().get("kernel.release"));
        }
    }

    @Test
    void vmWideAttributesFollowTheBuildAndTheMode() {
        try (KvmVm legacy = SimKvm.create(SimProfile.K7_4, SimHardware.X86).createVm(VmType.X86_SW_PROTECTED)) {
            assertEquals(PRIV, legacy.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
            legacy.setMemoryAttributes(MemoryAttributes.of(GPA, P, PRIV));
            legacy.setMemoryAttributes(MemoryAttributes.of(GPA, P, PRIV));
        }
        SimKvm inPlace = SimKvm.create(SimProfile.K7_4_INPLACE, SimHardware.X86);
        assertEquals(0, inPlace.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
        try (KvmVm vm = inPlace.createVm(VmType.X86_SW_PROTECTED)) {
            assertEquals(0, vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
            // The ioctl is there: its checks run in order, and PRIVATE is simply not a supported attribute.
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(new MemoryAttributes(GPA, P, 0, 1)));
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, P, PRIV)));
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, 0, 0)));
            vm.setMemoryAttributes(MemoryAttributes.of(GPA, P, 0));
        }
        SimKvm noVmAttributes = SimKvm.create(SimProfile.K7_4_NOVMATTR, SimHardware.X86);
        assertEquals(0, noVmAttributes.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
        try (KvmVm vm = noVmAttributes.createVm(VmType.X86_SW_PROTECTED)) {
            // Not compiled: x86's kvm_arch_vm_ioctl answers ENOTTY before looking at the argument.
            assertErrno(Errno.ENOTTY, () -> vm.setMemoryAttributes(new MemoryAttributes(GPA, P, 0, 1)));
            assertErrno(Errno.ENOTTY, () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, P, PRIV)));
            assertErrno(Errno.ENOTTY, () -> vm.setMemoryAttributes(MemoryAttributes.of(GPA, P, 0)));
        }
    }

    @ParameterizedTest
    @EnumSource(value = SimProfile.class, names = {"K7_4_INPLACE", "K7_4_NOVMATTR"})
    void attributes2CheckOrder(SimProfile profile) {
        SimKvm kvm = SimKvm.create(profile, SimHardware.X86);
        try (KvmVm plain = kvm.createVm(VmType.DEFAULT); KvmVm sw = kvm.createVm(VmType.X86_SW_PROTECTED);
             GuestMemfd pg = plain.createGuestMemfd(4L * P, BOTH); GuestMemfd g = sw.createGuestMemfd(4L * P, BOTH)) {
            long[] dirty = new long[MemoryAttributes2.RESERVED_WORDS];
            dirty[3] = 1;
            assertErrno(Errno.EINVAL, () -> pg.setMemoryAttributes2(new MemoryAttributes2(0, P, 0, 1, new long[MemoryAttributes2.RESERVED_WORDS])));
            assertErrno(Errno.EINVAL, () -> pg.setMemoryAttributes2(new MemoryAttributes2(0, P, 0, 0, dirty)));
            // No private memory: refused before the attributes, and before the no-op check.
            assertErrno(Errno.EINVAL, () -> pg.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0)));
            assertErrno(Errno.EINVAL, () -> pg.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV)));
            // The same requests on a VM with private memory: shared to shared is a no-op.
            g.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV | 1)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(3L * P, 2L * P, PRIV)));
        }
        try (KvmVm legacy = SimKvm.create(SimProfile.K7_4, SimHardware.X86).createVm(VmType.X86_SW_PROTECTED);
             GuestMemfd g = legacy.createGuestMemfd(P, GuestMemfdFlags.MMAP)) {
            // The mode is off: the ioctl is refused before its argument is read.
            assertErrno(Errno.ENOTTY, () -> g.setMemoryAttributes2(new MemoryAttributes2(0, P, 0, 1, new long[MemoryAttributes2.RESERVED_WORDS])));
        }
    }

    @Test
    void askingForTheAttributesARangeHasIsANoOp() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_4_INPLACE, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED); GuestMemfd g = vm.createGuestMemfd(4L * P, BOTH);
             HostMapping m = g.mmap(0, 4L * P, true)) {
            m.writeLong(0, 0x1234);
            try (PagePin pin = m.pin(0, P)) {
                // A pinned page cannot become private, but asking for the shared it is succeeds.
                g.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0));
                assertEquals(0, assertErrno(Errno.EAGAIN, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV))).errorOffset());
            }
            g.setMemoryAttributes2(MemoryAttributes2.of(P, P, PRIV));
            g.setMemoryAttributes2(MemoryAttributes2.of(P, P, PRIV));
            assertEquals(0x1234, m.readLong(0));
            assertErrno(Errno.EFAULT, () -> m.readLong(P));
        }
    }

    /**
     * A guest_memfd created without MMAP, bound with a memfd at userspace_addr: in the legacy mode shared accesses
     * go to the memfd; in the in-place mode as applied every guest_memfd memslot is gmem-only; v8 still used the memfd.
     */
    @ParameterizedTest
    @EnumSource(value = SimProfile.class, names = {"K7_4", "K7_4_INPLACE", "K7_4_NOVMATTR", "INPLACE"})
    void sharedGuestAccessesOfAGuestMemfdMemslot(SimProfile profile) {
        SimKvm kvm = SimKvm.create(profile, SimHardware.X86);
        boolean inPlace = profile != SimProfile.K7_4;
        boolean gmemOnly = profile == SimProfile.K7_4_INPLACE || profile == SimProfile.K7_4_NOVMATTR;
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED); GuestMemfd g = vm.createGuestMemfd(2L * P, 0);
             HostMemfd sharedSide = kvm.memfdCreate("shared", 2L * P); HostMapping host = sharedSide.mmap(0, 2L * P, true);
             SimVcpu cpu = (SimVcpu) vm.createVcpu(0)) {
            byte[] c3 = new byte[2 * P];
            Arrays.fill(c3, (byte) 0xc3);
            host.write(0, c3);
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(1, GPA, 2L * P, host.address(), g, 0));
            // In place the file starts private; convert page 0 to shared so that the guest's access is shared.
            if (inPlace) g.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0));
            cpu.load(c -> {
                c.out(0x80, 4, c.readLong(GPA) & 0xffffffffL);
                c.writeLong(GPA + 8, 0x5a5a5a5aL);
                c.out(0x80, 4, c.readLong(GPA + 8) & 0xffffffffL);
            });
            long first = assertInstanceOf(VcpuExit.Io.class, cpu.run()).value();
            long written = assertInstanceOf(VcpuExit.Io.class, cpu.run()).value();
            assertEquals(gmemOnly ? 0 : 0xc3c3c3c3L, first, profile.id() + ": what the guest read");
            assertEquals(0x5a5a5a5aL, written, profile.id() + ": the guest reads back its write");
            assertEquals(gmemOnly ? 0xc3c3c3c3c3c3c3c3L : 0x5a5a5a5aL, host.readLong(8), profile.id() + ": the memfd after the guest's write");
        }
    }

    @ParameterizedTest
    @EnumSource(value = SimProfile.class, names = {"K7_4", "K7_4_INPLACE", "K7_4_NOVMATTR"})
    void snpLaunchUpdateWithoutASourceNeedsTheInPlaceMode(SimProfile profile) {
        SimKvm kvm = SimKvm.create(profile, SimHardware.AMD_SNP);
        boolean inPlace = profile != SimProfile.K7_4;
        long ram = 16L * P;
        try (KvmVm vm = kvm.createVm(VmType.X86_SNP); SevDevice sev = kvm.openSevDevice();
             GuestMemfd g = vm.createGuestMemfd(ram, inPlace ? BOTH : 0);
             HostMemfd sharedSide = kvm.memfdCreate("shared", ram);
             HostMapping host = inPlace ? g.mmap(0, ram, true) : sharedSide.mmap(0, ram, true)) {
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, ram, host.address(), g, 0));
            vm.memoryEncryptOp(new SevCommand(SevCommand.INIT2, new byte[48], sev));
            vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START, SnpFirmwareTest.startData(0x30000), sev));
            if (inPlace) g.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV));
            else vm.setMemoryAttributes(MemoryAttributes.of(0, P, PRIV));
            SevCommand noSource = new SevCommand(SevCommand.SNP_LAUNCH_UPDATE, SnpFirmwareTest.updateData(0, 0, P, 1), sev);
            if (inPlace) vm.memoryEncryptOp(noSource);
            // sev_gmem_post_populate refuses the missing source with EINVAL; snp_launch_update reports a failure of
            // kvm_gmem_populate on the first page as EIO.
            else assertErrno(Errno.EIO, () -> vm.memoryEncryptOp(noSource));
        }
    }

    @ParameterizedTest
    @EnumSource(value = SimProfile.class, names = {"K7_4", "K7_4_INPLACE", "K7_4_NOVMATTR"})
    void arm64HasNoPrivateMemoryAttributes(SimProfile profile) {
        for (SimHardware hardware : new SimHardware[] {SimHardware.ARM64, SimHardware.ARM64_PKVM}) {
            SimKvm kvm = SimKvm.create(profile, hardware);
            assertEquals(0, kvm.checkExtension(KernelRules.CAP_GMEM_MEMORY_ATTRIBUTES_APPLIED));
            assertEquals(0, kvm.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
            try (KvmVm vm = kvm.createVm(VmType.DEFAULT); GuestMemfd g = vm.createGuestMemfd(P, BOTH)) {
                // gmem_in_place_conversion is the constant false without kvm_arch_has_private_mem.
                assertErrno(Errno.ENOTTY, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0)));
                assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(MemoryAttributes.of(0, P, 0)));
                // arm64 still binds only guest_memfds created with MMAP.
                try (GuestMemfd noMmap = vm.createGuestMemfd(P, 0)) {
                    assertErrno(Errno.EINVAL, () -> vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, P, 0, noMmap, 0)));
                }
            }
        }
    }
}
