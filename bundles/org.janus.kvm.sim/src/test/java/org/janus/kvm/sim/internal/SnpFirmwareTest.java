package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;
import org.janus.kvm.api.EnableCap;
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
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/**
 * The SEV-SNP launch commands of the software KVM against the kernel's rules and errnos, and its launch digest
 * against a chain the test computes itself.
 */
class SnpFirmwareTest {
    private static final int PAGE = 4096;
    private static final long RAM = 1L << 20;
    private static final long DEFAULT_POLICY = 0x30000;
    private static final int NORMAL = 1;
    private static final int ZERO = 3;
    private static final int SECRETS = 5;
    private static final int CPUID = 6;

    /** An SNP VM with one 1 MiB RAM region at GPA 0, in place (one guest_memfd) or legacy (memfd + guest_memfd). */
    private static final class Rig implements AutoCloseable {
        final SimKvm kvm;
        final KvmVm vm;
        final GuestMemfd gmem;
        final HostMapping shared;
        final HostMemfd sharedFile;
        final SevDevice sev;
        final boolean inPlace;

        Rig(SimProfile profile) {
            kvm = SimKvm.create(profile, SimHardware.AMD_SNP);
            vm = kvm.createVm(VmType.X86_SNP);
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
            sev = kvm.openSevDevice();
        }

        void init2() { vm.memoryEncryptOp(new SevCommand(SevCommand.INIT2, new byte[48], sev)); }

        void start(long policy) { vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START, startData(policy), sev)); }

        void makePrivate(long gpa, long size) {
            if (inPlace) gmem.setMemoryAttributes2(MemoryAttributes2.of(gpa, size, MemoryAttribute.PRIVATE));
            else vm.setMemoryAttributes(MemoryAttributes.of(gpa, size, MemoryAttribute.PRIVATE));
        }

        byte[] update(long gpa, long uaddr, long len, int type) {
            byte[] d = updateData(gpa / PAGE, uaddr, len, type);
            vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_UPDATE, d, sev));
            return d;
        }

        /** LAUNCH_UPDATE until the range is done, as a VMMs must; returns {calls, EAGAINs}. */
        int[] updateAll(long gpa, long uaddr, long len, int type) {
            byte[] d = updateData(gpa / PAGE, uaddr, len, type);
            int calls = 0;
            int again = 0;
            while (true) {
                try {
                    vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_UPDATE, d, sev));
                    calls++;
                } catch (KvmException e) {
                    if (e.errno() != Errno.EAGAIN) throw e;
                    again++;
                    continue;
                }
                if (le(d, 16) == 0) return new int[] {calls, again};
            }
        }

        void finish(byte[] data) { vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_FINISH, data, sev)); }

        @Override public void close() {
            sev.close();
            vm.close();
            shared.close();
            gmem.close();
            if (sharedFile != null) sharedFile.close();
        }
    }

    static byte[] startData(long policy) {
        return ByteBuffer.allocate(SnpFirmware.START_SIZE).order(ByteOrder.LITTLE_ENDIAN).putLong(0, policy).array();
    }

    static byte[] updateData(long gfn, long uaddr, long len, int type) {
        return ByteBuffer.allocate(SnpFirmware.UPDATE_SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(0, gfn).putLong(8, uaddr).putLong(16, len).put(24, (byte) type).array();
    }

    static long le(byte[] b, int at) { return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(at); }

    /** The test's own digest chain: SHA-384 over {digest, contents hash, 0x70, type, 0, 0, 0, 0, 0, gpa}. */
    static byte[] extend(byte[] digest, int type, long gpa, byte[] contentsHash) throws Exception {
        ByteBuffer info = ByteBuffer.allocate(0x70).order(ByteOrder.LITTLE_ENDIAN);
        info.put(digest).put(contentsHash == null ? new byte[48] : contentsHash).putShort((short) 0x70)
                .put((byte) type).put(new byte[5]).putLong(gpa);
        return MessageDigest.getInstance("SHA-384").digest(info.array());
    }

    @Test
    void launchCommandsNeedInit2ThenStartAndAreRefusedOnOtherVmTypes() {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            assertErrno(Errno.ENOTTY, () -> r.start(DEFAULT_POLICY));
            assertErrno(Errno.EINVAL, () -> r.update(0, 0, PAGE, NORMAL));
            assertErrno(Errno.ENOTTY, () -> r.finish(new byte[SnpFirmware.FINISH_SIZE]));
            r.init2();
            KvmException early = assertErrno(Errno.EINVAL, () -> r.update(0, 0, PAGE, NORMAL));
            assertEquals(0, early.firmwareError());
            assertErrno(Errno.EINVAL, () -> r.finish(new byte[SnpFirmware.FINISH_SIZE]));
            r.start(DEFAULT_POLICY);
            assertErrno(Errno.EINVAL, () -> r.start(DEFAULT_POLICY));       // one SNP context per VM
        }
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.AMD_SNP);
        try (KvmVm sev = kvm.createVm(VmType.X86_SEV_ES); SevDevice dev = kvm.openSevDevice()) {
            sev.memoryEncryptOp(new SevCommand(SevCommand.INIT2, new byte[48], dev));
            assertErrno(Errno.ENOTTY, () -> sev.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START, startData(DEFAULT_POLICY), dev)));
            assertErrno(Errno.EINVAL, () -> sev.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_UPDATE, updateData(0, 0, PAGE, NORMAL), dev)));
        }
    }

    @Test
    void policyIsCheckedBitByBit() {
        long[] refusedByKvm = {
            0x20000,            // SMT (bit 16) clear: KVM requires it
            0x10000,            // bit 17, reserved must-be-one, clear
            0x30000 | 1L << 18, // migration agent bit: not in KVM's valid mask
            0x30000 | 1L << 20, // single socket
            0x30000 | 1L << 40, // reserved
        };
        for (long policy : refusedByKvm) {
            try (Rig r = new Rig(SimProfile.INPLACE)) {
                r.init2();
                KvmException e = assertErrno(Errno.EINVAL, () -> r.start(policy));
                assertEquals(0, e.firmwareError(), "KVM refuses 0x" + Long.toHexString(policy) + " before the firmware");
                r.start(DEFAULT_POLICY);                                    // nothing was left behind
            }
        }
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.init2();
            // ABI 2.0 is newer than the firmware's: the firmware's POLICY_FAILURE through EIO.
            KvmException e = assertErrno(Errno.EIO, () -> r.start(0x30000 | 0x0200));
            assertEquals(SnpFirmware.SEV_RET_POLICY_FAILURE, e.firmwareError());
            assertErrno(Errno.EINVAL, () -> r.vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START,
                    ByteBuffer.wrap(startData(DEFAULT_POLICY)).order(ByteOrder.LITTLE_ENDIAN).putShort(24, (short) 1).array(), r.sev)));
            r.start(0x30000 | 1L << 19);                                    // debugging allowed
        }
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.init2();
            SevDevice closed = r.kvm.openSevDevice();
            closed.close();
            assertErrno(Errno.ENOTTY, () -> r.vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START, startData(DEFAULT_POLICY), closed)));
        }
    }

    @Test
    void updateChecksItsArgumentsTheMemslotAndThePrivateAttribute() {
        for (SimProfile profile : new SimProfile[] {SimProfile.INPLACE, SimProfile.K7_3}) {
            try (Rig r = new Rig(profile)) {
                r.init2();
                r.start(DEFAULT_POLICY);
                r.makePrivate(0, 64L * PAGE);
                long src = r.shared.address();
                assertErrno(Errno.EINVAL, () -> r.update(0, src, PAGE + 8, NORMAL));        // unaligned length
                assertErrno(Errno.EINVAL, () -> r.update(0, src, 0, NORMAL));
                assertErrno(Errno.EINVAL, () -> r.update(0, src + 8, PAGE, NORMAL));        // unaligned source
                assertErrno(Errno.EINVAL, () -> r.update(0, src, PAGE, 2));                 // VMSA is not for userspace
                assertErrno(Errno.EINVAL, () -> r.vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_UPDATE,
                        ByteBuffer.wrap(updateData(0, src, PAGE, NORMAL)).order(ByteOrder.LITTLE_ENDIAN).putShort(26, (short) 1).array(), r.sev)));
                assertErrno(Errno.EINVAL, () -> r.update(RAM, src, PAGE, NORMAL));          // no memslot there
                // A shared page: kvm_gmem_populate's EINVAL becomes EIO, with no firmware status.
                KvmException shared = assertErrno(Errno.EIO, () -> r.update(64L * PAGE, src, PAGE, NORMAL));
                assertEquals(0, shared.firmwareError());
                assertFalse(r.kvm.isPrivate(r.vm, 64L * PAGE));
                // Private pages then a shared one: partial progress up to the shared page, then EIO on it.
                byte[] d = r.update(62L * PAGE, src, 4L * PAGE, ZERO);
                assertEquals(64, le(d, 0));
                assertEquals(2L * PAGE, le(d, 16));
                assertErrno(Errno.EIO, () -> r.update(62L * PAGE, 0, PAGE, ZERO));          // already launched
                if (!r.inPlace) {
                    // Legacy: the payload must come from a source buffer.
                    assertErrno(Errno.EIO, () -> r.update(0, 0, PAGE, NORMAL));
                }
            }
        }
    }

    @Test
    void partialProgressAndEagainThenTheDigestOfEveryPageInOrder() throws Exception {
        try (Rig r = new Rig(SimProfile.INPLACE)) {
            r.init2();
            r.start(DEFAULT_POLICY);
            int pages = 40;
            byte[] payload = new byte[pages * PAGE];
            for (int i = 0; i < payload.length; i += 64) payload[i] = (byte) (i / 64 + 7);
            r.shared.write(0, payload);                         // in place: written while shared ...
            r.makePrivate(0, pages * (long) PAGE);              // ... converted ...
            int[] normal = r.updateAll(0, 0, pages * (long) PAGE, NORMAL);   // ... and measured where it is
            assertTrue(normal[0] >= (pages + SnpFirmware.PAGES_PER_CALL - 1) / SnpFirmware.PAGES_PER_CALL, "partial progress");
            r.makePrivate(pages * (long) PAGE, 3L * PAGE);
            int[] zero = r.updateAll(pages * (long) PAGE, 0, 2L * PAGE, ZERO);
            int[] secrets = r.updateAll((pages + 2L) * PAGE, 0, PAGE, SECRETS);
            assertTrue(normal[1] + zero[1] + secrets[1] > 0, "EAGAIN came at least once");
            assertEquals(java.util.Optional.empty(), r.kvm.launchDigest(r.vm), "no digest before LAUNCH_FINISH");

            byte[] expected = new byte[48];
            MessageDigest sha = MessageDigest.getInstance("SHA-384");
            for (int i = 0; i < pages; i++)
                expected = extend(expected, NORMAL, (long) i * PAGE, sha.digest(Arrays.copyOfRange(payload, i * PAGE, (i + 1) * PAGE)));
            expected = extend(expected, ZERO, (long) pages * PAGE, null);
            expected = extend(expected, ZERO, (pages + 1L) * PAGE, null);
            expected = extend(expected, SECRETS, (pages + 2L) * PAGE, null);
            r.finish(new byte[SnpFirmware.FINISH_SIZE]);        // no vCPUs: nothing more to measure
            assertArrayEquals(expected, r.kvm.launchDigest(r.vm).orElseThrow());
        }
    }

    @Test
    void legacyCopiesTheSourceIntoThePrivateSideAndTheGuestSeesIt() throws Exception {
        try (Rig r = new Rig(SimProfile.K7_3); HostMemfd staging = r.kvm.memfdCreate("staging", 2L * PAGE);
             HostMapping src = staging.mmap(0, 2L * PAGE, true)) {
            r.vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << 12));
            r.init2();
            r.start(DEFAULT_POLICY);
            SimVcpu cpu = (SimVcpu) r.vm.createVcpu(0);
            src.writeLong(8, 0x5eed_f00dL);
            r.shared.writeLong(8, 0xbad);                       // the shared side is not what gets launched
            r.makePrivate(0, 2L * PAGE);
            r.updateAll(0, src.address(), 2L * PAGE, NORMAL);
            r.finish(new byte[SnpFirmware.FINISH_SIZE]);
            byte[] digest = r.kvm.launchDigest(r.vm).orElseThrow();
            assertEquals(48, digest.length);
            assertErrno(Errno.EINVAL, cpu::getRegs);            // state protected once the VMSA is encrypted
            assertErrno(Errno.EINVAL, () -> r.start(DEFAULT_POLICY));
            assertErrno(Errno.EINVAL, () -> r.update(0, src.address(), PAGE, NORMAL));
            assertErrno(Errno.EINVAL, () -> r.finish(new byte[SnpFirmware.FINISH_SIZE]));
            assertArrayEquals(digest, r.kvm.launchDigest(r.vm).orElseThrow());
            assertEquals(0, cpu.preFaultMemory(0, PAGE));      // allowed after the launch

            AtomicReference<Long> seen = new AtomicReference<>();
            cpu.load(g -> seen.set(g.readLong(8)));
            assertInstanceOf(VcpuExit.SystemEvent.class, cpu.run());
            assertEquals(0x5eed_f00dL, seen.get());
            assertEquals(0xbad, r.shared.readLong(8));
        }
    }

    @Test
    void theVmsaOfEachVcpuIsMeasuredFromItsRegistersAtFinish() throws Exception {
        byte[][] digests = new byte[2][];
        for (int variant = 0; variant < 2; variant++) {
            try (Rig r = new Rig(SimProfile.INPLACE)) {
                r.init2();
                r.start(DEFAULT_POLICY);
                SimVcpu cpu = (SimVcpu) r.vm.createVcpu(0);
                Regs regs = new Regs(0, 0, 0, 0x00a00f11L + variant, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfff0, 2);
                cpu.setRegs(regs);
                Sregs reset = cpu.getSregs();
                r.finish(new byte[SnpFirmware.FINISH_SIZE]);
                digests[variant] = r.kvm.launchDigest(r.vm).orElseThrow();
                byte[] vmsa = InitialVmsa.page(regs, reset, 1);
                assertArrayEquals(extend(new byte[48], 2, SnpFirmware.VMSA_GPA, MessageDigest.getInstance("SHA-384").digest(vmsa)),
                        digests[variant]);
                ByteBuffer v = ByteBuffer.wrap(vmsa).order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(0x9b, v.getShort(0x12));          // CS: present execute/read code, accessed
                assertEquals(0xffff0000L, v.getLong(0x18));
                assertEquals(0x1000, v.getLong(0xd0));         // EFER.SVME
                assertEquals(0x10, v.getLong(0x158));          // CR0.ET; CD and NW cleared by KVM
                assertEquals(1, v.getLong(0x3b0));             // SEV_FEATURES = SNPActive
            }
        }
        assertNotEquals(Arrays.toString(digests[0]), Arrays.toString(digests[1]), "RDX (the signature) is measured");
    }

    @Test
    void aCpuidPageTheProcessorCannotHonourIsRefusedAndCorrected() {
        try (Rig r = new Rig(SimProfile.K7_3); HostMemfd staging = r.kvm.memfdCreate("cpuid", PAGE);
             HostMapping src = staging.mmap(0, PAGE, true)) {
            r.init2();
            r.start(DEFAULT_POLICY);
            int hostLeaf1Ecx = r.kvm.getSupportedCpuid(256).stream().filter(e -> e.function() == 1).findFirst().orElseThrow().ecx();
            int missingBit = Integer.lowestOneBit(~hostLeaf1Ecx);
            ByteBuffer page = ByteBuffer.allocate(PAGE).order(ByteOrder.LITTLE_ENDIAN);
            page.putInt(0, 2);
            page.putInt(16, 0x8000001f).putInt(16 + 24, 0x1b);                     // as the host has it
            page.putInt(16 + 48, 1).putInt(16 + 48 + 32, hostLeaf1Ecx | missingBit); // a feature the host lacks
            src.write(0, page.array());
            r.makePrivate(0, 2L * PAGE);
            KvmException e = assertErrno(Errno.EIO, () -> r.update(0, src.address(), PAGE, CPUID));
            assertEquals(SnpFirmware.SEV_RET_INVALID_PARAM, e.firmwareError());
            ByteBuffer back = ByteBuffer.wrap(src.read(0, PAGE)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(hostLeaf1Ecx, back.getInt(16 + 48 + 32), "the firmware's correction is copied back to the source");
            assertEquals(0x8000001f, back.getInt(16));
            r.update(0, src.address(), PAGE, CPUID);                                 // the corrected page passes

            page.putInt(16 + 48, 0x4000_00ff);                                       // a leaf the host does not have
            src.write(0, page.array());
            assertEquals(SnpFirmware.SEV_RET_INVALID_PARAM,
                    assertErrno(Errno.EIO, () -> r.update(PAGE, src.address(), PAGE, CPUID)).firmwareError());
        }
    }

    @Test
    void anIdBlockIsCheckedForSignatureDigestAndPolicy() throws Exception {
        KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
        gen.initialize(new ECGenParameterSpec("secp384r1"));
        KeyPair key = gen.generateKeyPair();
        byte[] launched = launchOnePageAndDigest();
        // wrong digest, wrong policy, good one; a tampered signature
        int[] statuses = {
            finishWithIdBlock(key, new byte[48], DEFAULT_POLICY, false),
            finishWithIdBlock(key, launched, DEFAULT_POLICY | 1L << 19, false),
            finishWithIdBlock(key, launched, DEFAULT_POLICY, true),
            finishWithIdBlock(key, launched, DEFAULT_POLICY, false),
        };
        assertArrayEquals(new int[] {SnpFirmware.SEV_RET_BAD_MEASUREMENT, SnpFirmware.SEV_RET_POLICY_FAILURE,
                SnpFirmware.SEV_RET_BAD_SIGNATURE, 0}, statuses);
    }

    /** The digest of a launch of one zero page at GPA 0 with no vCPUs. */
    private static byte[] launchOnePageAndDigest() throws Exception {
        return extend(new byte[48], ZERO, 0, null);
    }

    /** Launches one zero page and finishes with an ID block; returns the firmware status (0 on success). */
    private static int finishWithIdBlock(KeyPair key, byte[] ld, long policy, boolean tamper) throws Exception {
        try (Rig r = new Rig(SimProfile.INPLACE); HostMemfd blobs = r.kvm.memfdCreate("id", 2L * PAGE);
             HostMapping m = blobs.mmap(0, 2L * PAGE, true)) {
            r.init2();
            r.start(DEFAULT_POLICY);
            r.makePrivate(0, PAGE);
            r.updateAll(0, 0, PAGE, ZERO);
            ByteBuffer block = ByteBuffer.allocate(96).order(ByteOrder.LITTLE_ENDIAN);
            block.put(0, ld).putInt(0x50, 1).putLong(0x58, policy);
            Signature ecdsa = Signature.getInstance("SHA384withECDSAinP1363Format");
            ecdsa.initSign(key.getPrivate());
            ecdsa.update(block.array());
            byte[] rs = ecdsa.sign();
            if (tamper) rs[5] ^= 1;
            ByteBuffer auth = ByteBuffer.allocate(PAGE).order(ByteOrder.LITTLE_ENDIAN);
            auth.putInt(0, 1);
            auth.put(0x40, littleEndian72(Arrays.copyOfRange(rs, 0, 48)));
            auth.put(0x40 + 72, littleEndian72(Arrays.copyOfRange(rs, 48, 96)));
            ECPublicKey pub = (ECPublicKey) key.getPublic();
            auth.putInt(0x240, 2);
            auth.put(0x244, littleEndian72(pub.getW().getAffineX()));
            auth.put(0x244 + 72, littleEndian72(pub.getW().getAffineY()));
            m.write(0, block.array());
            m.write(PAGE, auth.array());
            ByteBuffer finish = ByteBuffer.allocate(SnpFirmware.FINISH_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            finish.putLong(0, m.address()).putLong(8, m.address() + PAGE).put(16, (byte) 1);
            try {
                r.finish(finish.array());
                assertArrayEquals(ld, r.kvm.launchDigest(r.vm).orElseThrow());
                return 0;
            } catch (KvmException e) {
                assertEquals(Errno.EIO, e.errno());
                return (int) e.firmwareError();
            }
        }
    }

    private static byte[] littleEndian72(byte[] bigEndian) { return littleEndian72(new BigInteger(1, bigEndian)); }

    private static byte[] littleEndian72(BigInteger v) {
        byte[] out = new byte[72];
        byte[] be = v.toByteArray();
        for (int i = 0; i < be.length && i < 72; i++) out[i] = be[be.length - 1 - i];
        return out;
    }
}
