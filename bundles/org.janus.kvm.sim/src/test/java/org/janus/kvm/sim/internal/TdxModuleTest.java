package org.janus.kvm.sim.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.TdxCommand;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The TDX commands of the software KVM against tdx.c's order and errnos, and its MRTD against records the test builds
 * itself from the TDX module ABI (128-byte blocks: the SEAMCALL's name padded to 16 bytes, the GPA at offset 16).
 */
class TdxModuleTest {
    private static final int PAGE = 4096;
    private static final long RAM = 2L << 20;

    /** A TD with one 2 MiB RAM region at GPA 0, made private: in place (one guest_memfd) or legacy. */
    private static final class Rig implements AutoCloseable {
        final SimKvm kvm;
        final KvmVm vm;
        final GuestMemfd gmem;
        final HostMapping shared;
        final HostMemfd sharedFile;
        final boolean inPlace;
        final List<KvmVcpu> vcpus = new ArrayList<>();

        Rig(SimProfile profile) {
            kvm = SimKvm.create(profile, SimHardware.INTEL_TDX);
            vm = kvm.createVm(VmType.X86_TDX);
            inPlace = profile == SimProfile.INPLACE;
            if (inPlace) {
                gmem = vm.createGuestMemfd(RAM, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED);
                shared = gmem.mmap(0, RAM, true);
                sharedFile = null;
            } else {
                gmem = vm.createGuestMemfd(RAM, 0);
                sharedFile = kvm.memfdCreate("shared", RAM);
                shared = sharedFile.mmap(0, RAM, true);
            }
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, RAM, shared.address(), gmem, 0));
        }

        void makePrivate(long gpa, long size) {
            if (inPlace) gmem.setMemoryAttributes2(MemoryAttributes2.of(gpa, size, MemoryAttribute.PRIVATE));
            else vm.setMemoryAttributes(new MemoryAttributes(gpa, size, MemoryAttribute.PRIVATE, 0));
        }

        long vmCmd(int id, byte[] data) { return vm.memoryEncryptOp(TdxCommand.withStruct(id, 0, data)); }

        void initVm() { vmCmd(TdxCommand.INIT_VM, initVmData(0, TdxModule.SUPPORTED_XFAM, 48, defaultCpuid())); }

        KvmVcpu vcpu(int id) {
            KvmVcpu v = vm.createVcpu(id);
            vcpus.add(v);
            return v;
        }

        void initVcpu(KvmVcpu v, long rcx) { v.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, rcx)); }

        byte[] region(long source, long gpa, long pages) { return memRegion(source, gpa, pages); }

        void add(KvmVcpu v, byte[] region, boolean measure) {
            v.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, measure ? TdxCommand.MEASURE_MEMORY_REGION : 0, region));
        }

        /** INIT_MEM_REGION until done, retrying EINTR as a VMM must; returns the number of EINTRs. */
        int addAll(KvmVcpu v, byte[] region, boolean measure) {
            int interrupted = 0;
            while (true) {
                try {
                    add(v, region, measure);
                    return interrupted;
                } catch (KvmException e) {
                    if (e.errno() != Errno.EINTR) throw e;
                    interrupted++;
                }
            }
        }

        void finalizeVm() { vm.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0)); }

        @Override public void close() {
            vcpus.forEach(KvmVcpu::close);
            vm.close();
            shared.close();
            gmem.close();
            if (sharedFile != null) sharedFile.close();
        }
    }

    private static KvmException assertErrno(int errno, Executable call) { return SimTestSupport.assertErrno(errno, call); }

    private static KvmException assertErrno(int errno, Executable call, String what) {
        KvmException e = assertThrows(KvmException.class, call, what);
        assertEquals(errno, e.errno(), () -> what + ": expected " + Errno.name(errno) + " but got: " + e.getMessage());
        return e;
    }

    /** The CPUID a VMM derives from the capabilities: every configurable leaf, the GPAW in 0x80000008.EAX[23:16]. */
    static List<int[]> defaultCpuid() {
        List<int[]> l = new ArrayList<>();
        l.add(new int[] {0x1, 0, 0, 0, 0x00fa3202, 0x178bfbff});
        l.add(new int[] {0x7, 0, 0, 0x219c07ab, 0x0040069c, 0x10});
        l.add(new int[] {0x80000008, 0, 0x3030, 0, 0, 0});
        return l;
    }

    /** kvm_tdx_init_vm with {function, index, eax, ebx, ecx, edx} entries; 0x80000008's EAX gets the GPAW. */
    static byte[] initVmData(long attributes, long xfam, int gpaw, List<int[]> cpuid) {
        ByteBuffer b = ByteBuffer.allocate(TdxModule.INIT_VM_SIZE + cpuid.size() * 40).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, attributes).putLong(8, xfam).putInt(256, cpuid.size());
        for (int i = 0; i < cpuid.size(); i++) {
            int[] e = cpuid.get(i);
            int at = TdxModule.INIT_VM_SIZE + i * 40;
            int eax = e[0] == 0x80000008 ? (e[2] & ~0xff0000) | gpaw << 16 : e[2];
            b.putInt(at, e[0]).putInt(at + 4, e[1]).putInt(at + 12, eax).putInt(at + 16, e[3]).putInt(at + 20, e[4]).putInt(at + 24, e[5]);
        }
        return b.array();
    }

    static byte[] memRegion(long source, long gpa, long pages) {
        return ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(0, source).putLong(8, gpa).putLong(16, pages).array();
    }

    static long le(byte[] b, int at) { return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(at); }

    /** The test's own MRTD records (TDX module ABI). */
    static final class Mrtd {
        final MessageDigest sha;

        Mrtd() throws Exception { sha = MessageDigest.getInstance("SHA-384"); }

        void add(long gpa) { sha.update(block("MEM.PAGE.ADD", gpa)); }

        void extend(long gpa, byte[] page) {
            for (int i = 0; i < PAGE; i += 256) {
                sha.update(block("MR.EXTEND", gpa + i));
                sha.update(page, i, 256);
            }
        }

        static byte[] block(String name, long gpa) {
            ByteBuffer b = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
            b.put(name.getBytes(StandardCharsets.US_ASCII));
            b.putLong(16, gpa);
            return b.array();
        }
    }

    @Test
    void capabilitiesAnswerAtAnyTimeAndCheckTheirBuffer() {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            int n = TdxModule.CPUID_CONFIG.size();
            byte[] caps = new byte[TdxModule.CAPABILITIES_SIZE + n * 40];
            ByteBuffer.wrap(caps).order(ByteOrder.LITTLE_ENDIAN).putInt(2048, n);
            assertEquals(0, r.vmCmd(TdxCommand.CAPABILITIES, caps));
            assertEquals(TdxModule.ATTR_SEPT_VE_DISABLE, le(caps, 0), "KVM offers SEPT_VE_DISABLE only");
            assertEquals(0x2e7, le(caps, 8), "XFAM: the host's XCR0 features the module allows");
            assertEquals(n, ByteBuffer.wrap(caps).order(ByteOrder.LITTLE_ENDIAN).getInt(2048));
            int last = TdxModule.CAPABILITIES_SIZE + (n - 1) * 40;
            assertEquals(0x80000008, ByteBuffer.wrap(caps).order(ByteOrder.LITTLE_ENDIAN).getInt(last));
            assertEquals(0xff, (ByteBuffer.wrap(caps).order(ByteOrder.LITTLE_ENDIAN).getInt(last + 12) >>> 16) & 0xff,
                    "the GPAW field is reported as configurable");

            byte[] small = new byte[TdxModule.CAPABILITIES_SIZE + n * 40];
            ByteBuffer.wrap(small).order(ByteOrder.LITTLE_ENDIAN).putInt(2048, n - 1);
            assertErrno(Errno.E2BIG, () -> r.vmCmd(TdxCommand.CAPABILITIES, small));
            assertEquals(n - 1, ByteBuffer.wrap(small).order(ByteOrder.LITTLE_ENDIAN).getInt(2048), "nent is not updated");
            assertErrno(Errno.EFAULT, () -> r.vmCmd(TdxCommand.CAPABILITIES, new byte[100]));
            assertErrno(Errno.EINVAL, () -> r.vm.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.CAPABILITIES, 1, caps)));

            r.makePrivate(0, PAGE);
            r.initVm();
            KvmVcpu v = r.vcpu(0);
            r.initVcpu(v, 0);
            r.addAll(v, r.region(0, 0, 1), false);
            r.finalizeVm();
            assertEquals(0, r.vmCmd(TdxCommand.CAPABILITIES, caps), "CAPABILITIES still answers after FINALIZE_VM");
        }
    }

    @Test
    void initVmComesOnceAndBeforeAnyVcpu() {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            assertErrno(Errno.EIO, () -> r.vm.createVcpu(0).close());
            assertErrno(Errno.EINVAL, r::finalizeVm);
            byte[] good = initVmData(0, TdxModule.SUPPORTED_XFAM, 48, defaultCpuid());
            assertErrno(Errno.EINVAL, () -> r.vm.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_VM, 1, good)));
            assertErrno(Errno.EFAULT, () -> r.vmCmd(TdxCommand.INIT_VM, new byte[200]));
            byte[] reserved = good.clone();
            reserved[200] = 1;
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, reserved));
            byte[] padding = good.clone();
            padding[260] = 1;
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, padding));
            byte[] tooMany = good.clone();
            ByteBuffer.wrap(tooMany).order(ByteOrder.LITTLE_ENDIAN).putInt(256, 257);
            assertErrno(Errno.E2BIG, () -> r.vmCmd(TdxCommand.INIT_VM, tooMany));
            byte[] truncated = good.clone();
            ByteBuffer.wrap(truncated).order(ByteOrder.LITTLE_ENDIAN).putInt(256, 10);
            assertErrno(Errno.EFAULT, () -> r.vmCmd(TdxCommand.INIT_VM, truncated));
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, initVmData(TdxModule.ATTR_DEBUG, TdxModule.SUPPORTED_XFAM, 48, defaultCpuid())));
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, initVmData(0, 1L << 19, 48, defaultCpuid())));
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, initVmData(0, 3, 50, defaultCpuid())), "GPAW 50");
            List<int[]> noPhys = new ArrayList<>(defaultCpuid());
            noPhys.remove(2);
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, initVmData(0, 3, 48, noPhys)));
            List<int[]> tsx = new ArrayList<>(defaultCpuid());
            tsx.set(1, new int[] {0x7, 0, 0, 1 << 11, 0, 0});
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, initVmData(0, 3, 48, tsx)));
            List<int[]> foreign = new ArrayList<>(defaultCpuid());
            foreign.add(new int[] {0xd, 0, 0x2e7, 0, 0, 0});
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, initVmData(0, 3, 48, foreign)));
            List<int[]> fixedBits = new ArrayList<>(defaultCpuid());
            fixedBits.set(0, new int[] {0x1, 0, 0x000a0f11, 0, 0, 0});
            KvmException refused = assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, initVmData(0, 3, 48, fixedBits)));
            assertEquals(TdxModule.TDX_OPERAND_INVALID_RDX, refused.firmwareError(), "TDH.MNG.INIT's status in hw_error");

            assertEquals(0, r.vmCmd(TdxCommand.INIT_VM, good));
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VM, good));
            KvmVcpu v = r.vcpu(0);
            assertErrno(Errno.EINVAL, v::getRegs, "a TD's registers belong to the TDX module");
            assertErrno(Errno.EINVAL, () -> r.vmCmd(TdxCommand.INIT_VCPU, null), "a vCPU command on the VM fd");
        }
    }

    @Test
    void initVcpuOncePerVcpuAndMemoryOnlyAfterIt() {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.makePrivate(0, RAM);
            r.initVm();
            KvmVcpu v0 = r.vcpu(0);
            KvmVcpu v1 = r.vcpu(1);
            assertErrno(Errno.EINVAL, () -> r.add(v0, r.region(0, 0, 1), false), "INIT_MEM_REGION before INIT_VCPU");
            assertErrno(Errno.EINVAL, () -> v0.memoryEncryptOp(new TdxCommand(TdxCommand.INIT_VCPU, 1, null, 0)));
            r.initVcpu(v0, 0x809000);
            assertErrno(Errno.EINVAL, () -> r.initVcpu(v0, 0x809000));
            assertErrno(Errno.EINVAL, () -> r.add(v1, r.region(0, 0, 1), false), "vCPU 1 is not initialised");
            assertErrno(Errno.EINVAL, () -> v0.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0)));
            assertErrno(Errno.EINVAL, () -> v0.run(), "KVM_RUN before FINALIZE_VM");
            r.initVcpu(v1, 0x809000);
            assertEquals(Long.valueOf(0x809000), ((SimVm) r.vm).tdx().initialRcx(1));
        }
    }

    @Test
    void initMemRegionChecksItsRange() {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.makePrivate(0, RAM / 2);
            r.initVm();
            KvmVcpu v = r.vcpu(0);
            r.initVcpu(v, 0);
            assertErrno(Errno.EINVAL, () -> v.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, 2, r.region(0, 0, 1))));
            assertErrno(Errno.EFAULT, () -> v.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, 0, new byte[8])));
            assertErrno(Errno.EINVAL, () -> r.add(v, r.region(0, 0x800, 1), false), "unaligned GPA");
            assertErrno(Errno.EINVAL, () -> r.add(v, r.region(0x10, 0, 1), false), "unaligned source");
            assertErrno(Errno.EINVAL, () -> r.add(v, r.region(0, 0, 0), false), "no pages");
            assertErrno(Errno.EINVAL, () -> r.add(v, r.region(0, 1L << 47, 1), false), "a shared GPA (GPAW 48)");
            assertErrno(Errno.EINVAL, () -> r.add(v, r.region(0, RAM, 1), false), "no memslot");
            byte[] notPrivate = r.region(0, RAM / 2 - PAGE, 2);
            assertErrno(Errno.EINVAL, () -> r.add(v, notPrivate, false), "the second page is shared");
            assertEquals(RAM / 2, le(notPrivate, 8), "the region advanced past the page added");
            assertEquals(1, le(notPrivate, 16));
            assertErrno(Errno.EEXIST, () -> r.add(v, r.region(0, RAM / 2 - PAGE, 1), false), "added already");
            assertErrno(Errno.EFAULT, () -> r.add(v, r.region(0x7000_0000_0000L, 0, 1), false), "no mapping at the source");
        }
    }

    @ParameterizedTest
    @EnumSource(value = SimProfile.class, names = {"K7_3", "INPLACE_OFF", "INPLACE"})
    void sourceAddrZeroOnlyInPlace(SimProfile profile) {
        try (Rig r = new Rig(profile)) {
            r.makePrivate(0, PAGE);
            r.initVm();
            KvmVcpu v = r.vcpu(0);
            r.initVcpu(v, 0);
            switch (profile) {
                case K7_3 -> assertErrno(Errno.EINVAL, () -> r.add(v, r.region(0, 0, 1), false));
                case INPLACE_OFF -> assertErrno(Errno.EOPNOTSUPP, () -> r.add(v, r.region(0, 0, 1), false));
                default -> r.add(v, r.region(0, 0, 1), false);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = SimProfile.class, names = {"K7_3", "INPLACE"})
    void mrtdIsTheTdxModulesHashOfAddAndExtendRecords(SimProfile profile) throws Exception {
        try (Rig r = new Rig(profile)) {
            byte[] image = new byte[(int) (RAM * 3 / 4)];
            new Random(7).nextBytes(image);
            long measuredAt = 0;
            long plainAt = RAM * 3 / 4;
            HostMemfd staging = r.inPlace ? null : r.kvm.memfdCreate("staging", image.length);
            HostMapping src = staging == null ? null : staging.mmap(0, image.length, true);
            try {
                // In place the contents go in through the shared mapping before the pages become private.
                if (r.inPlace) r.shared.write(measuredAt, image);
                else src.write(0, image);
                r.makePrivate(0, RAM);
                r.initVm();
                KvmVcpu v = r.vcpu(0);
                r.initVcpu(v, 0);
                int interrupted = r.addAll(v, r.region(r.inPlace ? 0 : src.address(), measuredAt, image.length / PAGE), true);
                assertEquals(1, interrupted, "384 pages: one signal after 256, as a VMM must expect");
                r.addAll(v, r.region(r.inPlace ? 0 : src.address(), plainAt, 4), false);
                assertTrue(r.kvm.launchDigest(r.vm).isEmpty(), "no MRTD before FINALIZE_VM");
                r.finalizeVm();
            } finally {
                if (src != null) src.close();
                if (staging != null) staging.close();
            }
            Mrtd expected = new Mrtd();
            for (int p = 0; p < image.length / PAGE; p++) {
                expected.add(measuredAt + (long) p * PAGE);
                byte[] page = new byte[PAGE];
                System.arraycopy(image, p * PAGE, page, 0, PAGE);
                expected.extend(measuredAt + (long) p * PAGE, page);
            }
            for (int p = 0; p < 4; p++) expected.add(plainAt + (long) p * PAGE);
            assertArrayEquals(expected.sha.digest(), r.kvm.launchDigest(r.vm).orElseThrow());
        }
    }

    @Test
    void afterFinalizeOnlyCapabilitiesAnswer() {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.makePrivate(0, RAM);
            r.initVm();
            KvmVcpu v = r.vcpu(0);
            r.initVcpu(v, 0);
            r.add(v, r.region(0, 0, 1), false);
            assertErrno(Errno.EOPNOTSUPP, () -> v.preFaultMemory(0, PAGE), "no pre-faulting before FINALIZE_VM");
            r.finalizeVm();
            assertErrno(Errno.EINVAL, r::finalizeVm);
            assertErrno(Errno.EINVAL, r::initVm);
            assertErrno(Errno.EINVAL, () -> r.add(v, r.region(0, PAGE, 1), false));
            assertErrno(Errno.EINVAL, () -> r.initVcpu(v, 0));
            assertErrno(Errno.EIO, () -> r.vm.createVcpu(1).close(), "no vCPUs once the TD is finalized");
            assertEquals(0, v.preFaultMemory(PAGE, PAGE));
        }
    }

    @Test
    void injectedFaultsFailTheCommandAndChangeNothing() {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.makePrivate(0, RAM);
            r.kvm.injectFault("KVM_TDX_INIT_VM", Errno.EIO, 0);
            assertErrno(Errno.EIO, r::initVm);
            r.initVm();
            KvmVcpu v = r.vcpu(0);
            r.initVcpu(v, 0);
            r.kvm.injectFault("KVM_TDX_INIT_MEM_REGION", Errno.EAGAIN, 2);
            byte[] region = r.region(0, 0, 4);
            assertErrno(Errno.EAGAIN, () -> r.add(v, region, false));
            assertEquals(2 * PAGE, le(region, 8), "two pages were added before the third failed");
            r.add(v, region, false);
            assertEquals(0, le(region, 16));
        }
    }

    @Test
    void vmTypeFiveExistsOnlyFromLinux616() {
        SimKvm old = SimKvm.create(SimProfile.K6_12, SimHardware.INTEL_TDX);
        assertEquals(0x3, old.checkExtension(KvmCap.VM_TYPES));
        assertErrno(Errno.EINVAL, () -> old.createVm(VmType.X86_TDX));
        SimKvm current = SimKvm.create(SimProfile.K7_3, SimHardware.INTEL_TDX);
        assertEquals(0x23, current.checkExtension(KvmCap.VM_TYPES));
    }

    @Test
    void theNullArgumentIsAnsweredByTheHostsHandler() {
        try (KvmVm td = SimKvm.create(SimProfile.K7_3, SimHardware.INTEL_TDX).createVm(VmType.X86_TDX);
             KvmVm plainOnTdx = SimKvm.create(SimProfile.K7_3, SimHardware.INTEL_TDX).createVm(VmType.DEFAULT);
             KvmVm plainOnOld = SimKvm.create(SimProfile.K6_12, SimHardware.INTEL_TDX).createVm(VmType.DEFAULT);
             KvmVm plainOnAmd = SimKvm.create(SimProfile.K7_3, SimHardware.AMD_SNP).createVm(VmType.DEFAULT);
             KvmVm swOnAmd = SimKvm.create(SimProfile.K6_12, SimHardware.AMD_SNP).createVm(VmType.X86_SW_PROTECTED);
             KvmVm arm = SimKvm.create(SimProfile.K7_3, SimHardware.ARM64).createVm(VmType.DEFAULT)) {
            assertErrno(Errno.EFAULT, td::memoryEncryptOpProbe);
            assertErrno(Errno.ENOTTY, plainOnTdx::memoryEncryptOpProbe);
            assertErrno(Errno.ENOTTY, plainOnOld::memoryEncryptOpProbe);
            plainOnAmd.memoryEncryptOpProbe();
            swOnAmd.memoryEncryptOpProbe();
            assertErrno(Errno.EINVAL, arm::memoryEncryptOpProbe);
            assertErrno(Errno.ENOTTY, () -> plainOnTdx.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0)));
            KvmVcpu v = plainOnTdx.createVcpu(0);
            assertErrno(Errno.EINVAL, () -> v.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0)));
            v.close();
        }
    }

    @Test
    void mapGpaReachesUserspaceInTwoMibChunksWithTheSharedBitStripped() throws Exception {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.makePrivate(0, RAM);
            r.initVm();
            SimVcpu v = (SimVcpu) r.vcpu(0);
            r.initVcpu(v, 0);
            r.addAll(v, r.region(0, 0, 1), false);
            r.vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
            r.finalizeVm();
            long sharedBit = 1L << 47;
            long[] answers = new long[3];
            byte[][] read = new byte[1][];
            v.load(cpu -> {
                // To shared, 4 MiB: the page-size code of MAP_GPA_RANGE has no meaning for MapGPA and is dropped.
                answers[0] = cpu.mapGpaRange(0, 2 * RAM / PAGE, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M);
                cpu.write(sharedBit | 0x1000, new byte[] {42});
                read[0] = cpu.readShared(0x1000, 1);
                answers[1] = cpu.mapGpaRange(sharedBit | 0x2000, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED);
                answers[2] = cpu.mapGpaRange(0x1000, sharedBit >> 12, Hypercalls.MAP_GPA_RANGE_ENCRYPTED);
            });
            VcpuExit.Hypercall first = assertInstanceOf(VcpuExit.Hypercall.class, v.run());
            assertEquals(List.of(0L, 512L, Hypercalls.MAP_GPA_RANGE_DECRYPTED), List.of(first.arg(0), first.arg(1), first.arg(2)));
            assertEquals(Hypercalls.EXIT_HYPERCALL_LONG_MODE, first.flags());
            r.gmem.setMemoryAttributes2(MemoryAttributes2.of(0, RAM, 0));
            v.completeHypercall(0);
            VcpuExit.Hypercall second = assertInstanceOf(VcpuExit.Hypercall.class, v.run());
            assertEquals(List.of(RAM, 512L, Hypercalls.MAP_GPA_RANGE_DECRYPTED), List.of(second.arg(0), second.arg(1), second.arg(2)));
            v.completeHypercall(0);
            // The shared write and read need no exit once the range is shared; the next exit is the second MapGPA,
            // whose GPA carries the shared bit: it asks for shared, whatever MAP_GPA_RANGE's attributes say.
            VcpuExit.Hypercall third = assertInstanceOf(VcpuExit.Hypercall.class, v.run());
            assertEquals(List.of(0x2000L, 1L, Hypercalls.MAP_GPA_RANGE_DECRYPTED), List.of(third.arg(0), third.arg(1), third.arg(2)));
            v.completeHypercall(Errno.EAGAIN);
            assertInstanceOf(VcpuExit.SystemEvent.class, v.run());
            assertEquals(0, answers[0]);
            assertEquals(42, read[0][0]);
            assertEquals(Errno.EAGAIN, answers[1], "TDVMCALL_STATUS_RETRY reaches the guest program as EAGAIN");
            assertEquals(Errno.EINVAL, answers[2], "a range crossing into the shared half is INVALID_OPERAND, without an exit");
            assertFalse(r.kvm.isPrivate(r.vm, 0x1000));
        }
    }
}
