package org.janus.kvm.conformance;

import static org.janus.kvm.conformance.GuestRig.DATA_GPA;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.IntConsumer;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.TdxCommand;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestCpuException;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/**
 * What SEV-SNP and TDX hardware do to private memory when a page changes owner (SIM-DISAGREEMENTS.md, entries 13 to
 * 17): the guest must take a private page into use before it touches it (SNP: PVALIDATE, else #VC PAGE_NOT_VALIDATED;
 * TDX: TDG.MEM.PAGE.ACCEPT, else KVM marks the TD dead or the guest gets #VE), every change of owner ends that, and
 * neither side ever reads the other side's plaintext across a conversion, in place or legacy; only the pages the
 * firmware put in at launch (SNP_LAUNCH_UPDATE, TDH.MEM.PAGE.ADD) hold the host's plaintext, ready for use. That a
 * software-protected VM keeps contents in place is {@code ConversionGuestTest} and
 * {@code GuestMemfdAttributesTest.conversionRoundTripsPreserveContentsInPlace}; a pKVM protected VM,
 * {@code PkvmTest.aShareAndAnUnshareExitWithTheFunctionNumberAndKeepTheContents}.
 *
 * <p>Each case runs where the target offers the VM type, in the attribute mode the type reports (the VMM's memory laid
 * out by {@link GuestRig}: in place, one guest_memfd; legacy, a memfd and a guest_memfd, the stale side discarded).
 * A guest that touches private memory needs a launched confidential VM, which only the software KVM runs here.
 */
class EncryptedMemoryTest extends KvmTargetTest {
    static final int GUEST_PATTERN = 0x3c;
    static final int HOST_PATTERN = 0xc3;
    /** TDX_TD_ATTR_SEPT_VE_DISABLE: a private access to a PENDING page exits to KVM instead of raising #VE. */
    static final long SEPT_VE_DISABLE = 1L << 28;
    static final long SNP_POLICY = 0x30000;
    static final int SNP_PAGE_TYPE_NORMAL = 1;

    /** A VM of {@code type} with guest RAM per its attribute mode, or the case skipped saying why. */
    private GuestRig rig(KvmVm vm, long type) {
        VmCaps c = caps(type);
        assumeTrue(c.legacy() || c.inPlace(), c + ": neither memory-attribute mode");
        assumeTrue(!c.inPlace() || c.initShared(), c + ": in-place mode without GUEST_MEMFD_FLAG_INIT_SHARED");
        return new GuestRig(this, vm, c, 2 * page);
    }

    private void requireType(long type) {
        assumeTrue((vmTypesMask() & (1L << type)) != 0, VmType.name(type) + " VMs are not offered here (VM_TYPES=0x"
                + Long.toHexString(vmTypesMask()) + ")");
    }

    private static SimVcpu programmable(KvmVcpu vcpu) {
        assumeTrue(vcpu instanceof SimVcpu, "a guest touching private memory needs a launched confidential VM; only the"
                + " software KVM runs one here");
        return (SimVcpu) vcpu;
    }

    /** What a guest run came to: the values the guest reported and the exit that ended it. */
    record Run(List<Long> values, VcpuExit end, List<VcpuExit.MemoryFault> faults) {}

    /**
     * Runs the guest, converting at each memory fault as the VMM does, calling {@code step} at each PORT_STEP, until the
     * guest ends (a system event) or KVM_RUN fails.
     */
    private static Run run(SimVcpu vcpu, GuestRig rig, List<Long> values, IntConsumer step) {
        List<VcpuExit.MemoryFault> faults = new ArrayList<>();
        for (int exits = 0; exits < 1000; exits++) {
            VcpuExit exit = vcpu.run();
            if (exit instanceof VcpuExit.MemoryFault f) {
                faults.add(f);
                rig.convert(f.gpa(), f.size(), f.isPrivate());
            } else if (exit instanceof VcpuExit.Io io && io.isOut() && io.port() == GuestRig.PORT_STEP) {
                step.accept((int) io.value());
            } else if (exit instanceof VcpuExit.SystemEvent || exit instanceof VcpuExit.Hlt) {
                return new Run(List.copyOf(values), exit, faults);
            } else if (!(exit instanceof VcpuExit.Interrupted)) {
                fail("unexpected exit " + exit + " after values " + values + GuestRig.guestFailure(vcpu));
            }
        }
        return fail("the guest did not finish; values " + values);
    }

    private static void assertEnded(Run r, SimVcpu vcpu) {
        VcpuExit.SystemEvent end = assertInstanceOf(VcpuExit.SystemEvent.class, r.end(), () -> "end " + r + GuestRig.guestFailure(vcpu));
        assertEquals(ExitReason.SYSTEM_EVENT_SHUTDOWN, end.type(), () -> "the guest crashed: " + r + GuestRig.guestFailure(vcpu));
    }

    /** The guest ended with SYSTEM_EVENT_CRASH because the hardware raised {@code vector} inside it at DATA_GPA. */
    private static GuestCpuException assertRaised(Run r, SimVcpu vcpu, int vector) {
        VcpuExit.SystemEvent end = assertInstanceOf(VcpuExit.SystemEvent.class, r.end(), () -> "end " + r);
        assertEquals(ExitReason.SYSTEM_EVENT_CRASH, end.type(), () -> "the guest was not stopped: " + r);
        GuestCpuException e = assertInstanceOf(GuestCpuException.class, vcpu.guestFailure().orElse(null),
                () -> "the guest failed with " + vcpu.guestFailure());
        assertEquals(vector, e.vector(), e.getMessage());
        assertEquals(DATA_GPA, e.gpa(), e.getMessage());
        return e;
    }

    private static boolean all(byte[] b, int value) {
        for (byte x : b) if (x != (byte) value) return false;
        return true;
    }

    // ---- SEV-SNP ----

    /** An SNP VM (INIT2, LAUNCH_START) with RAM, its vCPU and /dev/sev. */
    private record Snp(KvmVm vm, GuestRig rig, SimVcpu vcpu, SevDevice sev) {
        void finish() { vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_FINISH, new byte[88], sev)); }
    }

    private Snp snp() {
        requireType(VmType.X86_SNP);
        KvmVm vm = createVm(VmType.X86_SNP);
        GuestRig rig = rig(vm, VmType.X86_SNP);
        SevDevice sev = keep(kvm.openSevDevice());
        vm.memoryEncryptOp(new SevCommand(SevCommand.INIT2, new byte[48], sev));
        vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_START,
                ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(0, SNP_POLICY).array(), sev));
        SimVcpu vcpu = programmable(createVcpu(vm, 0));
        return new Snp(vm, rig, vcpu, sev);
    }

    /** APM vol. 2, 15.36.10: a private access to a page whose RMP entry is not Validated raises #VC PAGE_NOT_VALIDATED. */
    @Test
    void anSnpGuestCannotTouchAPrivatePageItHasNotValidated() {
        Snp s = snp();
        s.finish();
        s.vcpu().load(cpu -> cpu.writePrivate(DATA_GPA, filled((int) page, GUEST_PATTERN)));
        Run r = run(s.vcpu(), s.rig(), List.of(), step -> {});
        assertEquals(1, r.faults().size(), () -> "one private memory fault, answered by converting: " + r);
        assertTrue(r.faults().get(0).isPrivate());
        GuestCpuException e = assertRaised(r, s.vcpu(), GuestCpuException.VECTOR_VC);
        assertEquals(GuestCpuException.VC_PAGE_NOT_VALIDATED, e.errorCode(), e.getMessage());
    }

    /**
     * PVALIDATE sets the Validated bit once (rFLAGS.CF for no change, Linux's PVALIDATE_FAIL_NOUPDATE), rescinds it, takes
     * a 4 KiB aligned page only, and is a private access, so a shared page first exits as a memory fault; the host's
     * conversion of a page (RMPUPDATE) leaves it not validated.
     */
    @Test
    void pvalidateTakesAnSnpPageOnceAndAChangeOfOwnerEndsIt() {
        Snp s = snp();
        s.finish();
        List<Long> values = Collections.synchronizedList(new ArrayList<>());
        s.vcpu().load(cpu -> {
            values.add(cpu.pvalidate(DATA_GPA, page, true));
            values.add(cpu.pvalidate(DATA_GPA, page, true));
            cpu.writePrivate(DATA_GPA, filled((int) page, GUEST_PATTERN));
            values.add(cpu.pvalidate(DATA_GPA, page, false));
            values.add(cpu.pvalidate(DATA_GPA, page, false));
            values.add(cpu.pvalidate(DATA_GPA, page, true));
            cpu.readShared(DATA_GPA, 8);
            values.add(cpu.pvalidate(DATA_GPA, page, true));
            values.add(cpu.pvalidate(DATA_GPA + 8, page, true));
        });
        Run r = run(s.vcpu(), s.rig(), values, step -> {});
        assertEnded(r, s.vcpu());
        long ok = GuestCpu.PVALIDATE_SUCCESS;
        long same = GuestCpu.PVALIDATE_FAIL_NOUPDATE;
        assertEquals(List.of(ok, same, ok, same, ok, ok, GuestCpu.PVALIDATE_FAIL_INPUT), r.values(),
                "validate, again, rescind, again, validate, validate after the host converted the page, misaligned");
        assertEquals(List.of(true, false, true), r.faults().stream().map(VcpuExit.MemoryFault::isPrivate).toList(),
                "PVALIDATE of a shared page, the shared read, PVALIDATE after it: " + r.faults());
    }

    /**
     * Private memory is encrypted with the guest's key: the host, and the guest's shared accesses, see a page the guest
     * wrote as ciphertext (in place) or as the other page (legacy) once it is shared, and the guest sees what the host
     * wrote as garbage once the page is private again; never the other side's plaintext.
     */
    @Test
    void neitherSideOfAnSnpPageReadsTheOthersPlaintextAfterAConversion() {
        Snp s = snp();
        s.finish();
        List<Long> values = Collections.synchronizedList(new ArrayList<>());
        s.vcpu().load(cpu -> {
            cpu.pvalidate(DATA_GPA, page, true);
            cpu.writePrivate(DATA_GPA, filled((int) page, GUEST_PATTERN));
            values.add(all(cpu.readShared(DATA_GPA, (int) page), GUEST_PATTERN) ? 1L : 0L);
            cpu.out(GuestRig.PORT_STEP, 4, 1);
            cpu.pvalidate(DATA_GPA, page, true);
            values.add(all(cpu.readPrivate(DATA_GPA, (int) page), HOST_PATTERN) ? 1L : 0L);
        });
        Run r = run(s.vcpu(), s.rig(), values, step -> {
            assertFalse(all(s.rig().hostView.read(0, (int) page), GUEST_PATTERN), "the host reads the guest's plaintext");
            s.rig().hostView.write(0, filled((int) page, HOST_PATTERN));
        });
        assertEnded(r, s.vcpu());
        assertEquals(List.of(0L, 0L), r.values(), "1 where the guest read the other side's plaintext: shared read after"
                + " writing privately, private read after the host wrote the shared page");
    }

    /**
     * SNP_LAUNCH_UPDATE encrypts a page where it is (in place, {@code uaddr} 0) or from the VMM's buffer, and validates
     * it: the guest reads the plaintext at once, and PVALIDATE finds nothing to change (OVMF skips these "pre-validated"
     * ranges for that reason).
     */
    @Test
    void pagesTheSnpFirmwarePutInHoldTheirPlaintextValidated() {
        Snp s = snp();
        byte[] payload = new byte[(int) page];
        for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 7 + 1);
        long uaddr = 0;
        if (s.rig().inPlace) {
            s.rig().hostView.write(0, payload);
        } else {
            HostMemfd staging = createMemfd(page);
            HostMapping view = map(staging, 0, page);
            view.write(0, payload);
            uaddr = view.address();
        }
        s.rig().convert(DATA_GPA, page, true);
        byte[] update = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(0, DATA_GPA / 4096).putLong(8, uaddr)
                .putLong(16, page).put(24, (byte) SNP_PAGE_TYPE_NORMAL).array();
        for (int tries = 0; ByteBuffer.wrap(update).order(ByteOrder.LITTLE_ENDIAN).getLong(16) != 0; tries++) {
            try {
                s.vm().memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_UPDATE, update, s.sev()));
            } catch (KvmException e) {
                if (!e.is(Errno.EAGAIN) || tries > 100) throw e;
            }
        }
        s.finish();
        List<Long> values = Collections.synchronizedList(new ArrayList<>());
        s.vcpu().load(cpu -> {
            values.add(cpu.pvalidate(DATA_GPA, page, true));
            values.add(Arrays.equals(cpu.readPrivate(DATA_GPA, (int) page), payload) ? 1L : 0L);
        });
        Run r = run(s.vcpu(), s.rig(), values, step -> {});
        assertEnded(r, s.vcpu());
        assertEquals(List.of(), r.faults(), "the launched page is private");
        assertEquals(List.of(GuestCpu.PVALIDATE_FAIL_NOUPDATE, 1L), r.values(), "PVALIDATE of the launched page, and whether"
                + " the guest reads the plaintext the VMM loaded");
    }

    // ---- TDX ----

    /** A TD with {@code attributes}, RAM, and its vCPU initialised; finalize it with {@link #finalizeTd}. */
    private record Td(KvmVm vm, GuestRig rig, SimVcpu vcpu) {}

    private Td td(long attributes) {
        requireType(VmType.X86_TDX);
        KvmVm vm = createVm(VmType.X86_TDX);
        assumeTrue(TdxCommandsTest.initTd(vm, attributes), "KVM_TDX_CAPABILITIES does not offer TD attributes 0x"
                + Long.toHexString(attributes));
        GuestRig rig = rig(vm, VmType.X86_TDX);
        SimVcpu vcpu = programmable(createVcpu(vm, 0));
        vcpu.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0));
        return new Td(vm, rig, vcpu);
    }

    private static void finalizeTd(Td td) { td.vm().memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0)); }

    /**
     * A private page KVM maps after finalization is PENDING (TDH.MEM.PAGE.AUG). With SEPT_VE_DISABLE a guest access to it
     * is KVM's "Guest access before accepting": kvm_vm_dead and KVM_RUN -EIO, after which every VM and vCPU ioctl
     * answers EIO (tdx_handle_ept_violation; kvm_vm_ioctl, kvm_vcpu_ioctl).
     */
    @Test
    void aTdAccessingAPageBeforeAcceptingItIsDeadWithSeptVeDisable() {
        Td td = td(SEPT_VE_DISABLE);
        finalizeTd(td);
        td.vcpu().load(cpu -> cpu.writePrivate(DATA_GPA, filled((int) page, GUEST_PATTERN)));
        VcpuExit.MemoryFault f = assertInstanceOf(VcpuExit.MemoryFault.class, td.vcpu().run(), () -> GuestRig.guestFailure(td.vcpu()));
        assertTrue(f.isPrivate(), f.toString());
        td.rig().convert(f.gpa(), f.size(), true);
        expectErrno(Errno.EIO, "KVM_RUN: the guest touched a PENDING page", () -> td.vcpu().run());
        expectErrno(Errno.EIO, "KVM_RUN of a dead VM", () -> td.vcpu().run());
        expectErrno(Errno.EIO, "KVM_CHECK_EXTENSION on a dead VM", () -> td.vm().checkExtension(KvmCap.USER_MEMORY2));
    }

    /** Without SEPT_VE_DISABLE the TDX module raises #VE in the guest for an access to a PENDING page. */
    @Test
    void aTdAccessingAPageBeforeAcceptingItGetsVeWithoutSeptVeDisable() {
        Td td = td(0);
        finalizeTd(td);
        td.vcpu().load(cpu -> cpu.writePrivate(DATA_GPA, filled((int) page, GUEST_PATTERN)));
        Run r = run(td.vcpu(), td.rig(), List.of(), step -> {});
        assertEquals(1, r.faults().size(), () -> "one private memory fault, answered by converting: " + r);
        GuestCpuException e = assertRaised(r, td.vcpu(), GuestCpuException.VECTOR_VE);
        assertEquals(GuestCpuException.VE_EPT_VIOLATION, e.errorCode(), e.getMessage());
        assertTrue(td.vm().checkExtension(KvmCap.USER_MEMORY2) > 0, "the VM lives on: KVM saw nothing of the #VE");
    }

    /**
     * TDG.MEM.PAGE.ACCEPT takes a PENDING page once (TDX_PAGE_ALREADY_ACCEPTED after) and fills it with zeros, whatever
     * the host wrote there while it was shared; the page the TD wrote shows neither the guest's shared accesses nor the
     * host its plaintext once the host converts it to shared.
     */
    @Test
    void acceptingATdPageZeroesItAndAConversionHidesWhatTheGuestWrote() {
        Td td = td(SEPT_VE_DISABLE);
        finalizeTd(td);
        td.rig().hostView.write(0, filled((int) page, HOST_PATTERN));
        List<Long> values = Collections.synchronizedList(new ArrayList<>());
        td.vcpu().load(cpu -> {
            long accepted = cpu.acceptPage(DATA_GPA, page);
            values.add(accepted == GuestCpu.TDX_SUCCESS ? 1L : 0L);
            values.add(all(cpu.readPrivate(DATA_GPA, (int) page), 0) ? 1L : 0L);
            values.add(cpu.acceptPage(DATA_GPA, page) == GuestCpu.TDX_PAGE_ALREADY_ACCEPTED ? 1L : 0L);
            values.add(cpu.acceptPage(DATA_GPA + 8, page) == GuestCpu.TDX_OPERAND_INVALID ? 1L : 0L);
            cpu.writePrivate(DATA_GPA, filled((int) page, GUEST_PATTERN));
            values.add(all(cpu.readShared(DATA_GPA, (int) page), GUEST_PATTERN) ? 0L : 1L);
            cpu.out(GuestRig.PORT_STEP, 4, 1);
        });
        Run r = run(td.vcpu(), td.rig(), values, step ->
                assertFalse(all(td.rig().hostView.read(0, (int) page), GUEST_PATTERN), "the host reads the TD's plaintext"));
        assertEnded(r, td.vcpu());
        assertEquals(List.of(1L, 1L, 1L, 1L, 1L), r.values(), "accepted; zeros, not the host's bytes; accepted once; a"
                + " misaligned GPA refused; the shared face does not show what the TD wrote privately");
        assertEquals(List.of(true, false), r.faults().stream().map(VcpuExit.MemoryFault::isPrivate).toList(),
                "the accept of a shared page, the shared read: " + r.faults());
    }

    /**
     * KVM_TDX_INIT_MEM_REGION adds a page with TDH.MEM.PAGE.ADD: mapped with the contents given (in place, those already
     * in guest_memfd), never PENDING, so the guest reads them at once and its accept finds the page accepted.
     */
    @Test
    void pagesTheTdxModuleAddedHoldTheirPlaintextAccepted() {
        Td td = td(SEPT_VE_DISABLE);
        byte[] payload = new byte[(int) page];
        for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 5 + 3);
        long source = 0;
        if (td.rig().inPlace) {
            td.rig().hostView.write(0, payload);
        } else {
            HostMemfd staging = createMemfd(page);
            HostMapping view = map(staging, 0, page);
            view.write(0, payload);
            source = view.address();
        }
        td.rig().convert(DATA_GPA, page, true);
        byte[] region = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(0, source).putLong(8, DATA_GPA)
                .putLong(16, page / 4096).array();
        for (int tries = 0; ByteBuffer.wrap(region).order(ByteOrder.LITTLE_ENDIAN).getLong(16) != 0; tries++) {
            try {
                td.vcpu().memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, TdxCommand.MEASURE_MEMORY_REGION, region));
            } catch (KvmException e) {
                if (!(e.is(Errno.EAGAIN) || e.is(Errno.EINTR)) || tries > 100) throw e;
            }
        }
        finalizeTd(td);
        List<Long> values = Collections.synchronizedList(new ArrayList<>());
        GuestProgram guest = cpu -> {
            values.add(Arrays.equals(cpu.readPrivate(DATA_GPA, (int) page), payload) ? 1L : 0L);
            values.add(cpu.acceptPage(DATA_GPA, page) == GuestCpu.TDX_PAGE_ALREADY_ACCEPTED ? 1L : 0L);
        };
        td.vcpu().load(guest);
        Run r = run(td.vcpu(), td.rig(), values, step -> {});
        assertEnded(r, td.vcpu());
        assertEquals(List.of(), r.faults(), "the added page is private");
        assertEquals(List.of(1L, 1L), r.values(), "the guest reads the plaintext the VMM loaded; the page is accepted");
    }
}
