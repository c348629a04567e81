package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.P;
import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.TdxCommand;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/**
 * The finer rules of {@link EncryptedMemory} that the conformance suite leaves to the model: where the RMP's and the
 * Secure EPT's state lives (the guest_memfd page), what a legacy VM-wide attribute change does to it on each
 * platform, and that an untouched round trip in place gives the guest its plaintext back on SNP.
 */
class EncryptedMemoryModelTest {
    private static final long GPA = 1L << 20;

    /** A VM with two pages at {@link #GPA}, in place (one guest_memfd) or legacy, and its vCPU. */
    private record Vm(KvmVm vm, GuestMemfd gmem, HostMemfd shared, HostMapping host, SimVcpu cpu, boolean inPlace)
            implements AutoCloseable {
        static Vm create(SimProfile profile, SimHardware hardware, long type) {
            SimKvm kvm = SimKvm.create(profile, hardware);
            KvmVm vm = kvm.createVm(type);
            boolean inPlace = profile == SimProfile.INPLACE;
            GuestMemfd gmem = vm.createGuestMemfd(2L * P, inPlace ? GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED : 0);
            HostMemfd shared = inPlace ? null : kvm.memfdCreate("shared", 2L * P);
            HostMapping host = inPlace ? gmem.mmap(0, 2L * P, true) : shared.mmap(0, 2L * P, true);
            if (type == VmType.X86_TDX) vm.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_VM, 0,
                    TdxModuleTest.initVmData(TdxModule.ATTR_SEPT_VE_DISABLE, TdxModule.SUPPORTED_XFAM, 48, TdxModuleTest.defaultCpuid())));
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, GPA, 2L * P, host.address(), gmem, 0));
            SimVcpu cpu = (SimVcpu) vm.createVcpu(0);
            if (type == VmType.X86_TDX) {
                cpu.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0));
                vm.memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0));
            }
            return new Vm(vm, gmem, shared, host, cpu, inPlace);
        }

        void convert(boolean toPrivate) {
            long attributes = toPrivate ? MemoryAttribute.PRIVATE : 0;
            if (inPlace) gmem.setMemoryAttributes2(MemoryAttributes2.of(0, P, attributes));
            else vm.setMemoryAttributes(MemoryAttributes.of(GPA, P, attributes));
        }

        /** Runs the guest to its end, converting at each memory fault as asked and, in legacy memory, keeping both sides. */
        VcpuExit runConverting() {
            while (true) {
                VcpuExit exit = cpu.run();
                if (exit instanceof VcpuExit.MemoryFault f) convert(f.isPrivate());
                else return exit;
            }
        }

        @Override public void close() {
            cpu.close();
            vm.close();
            host.close();
            gmem.close();
            if (shared != null) shared.close();
        }
    }

    private static void assertShutdown(VcpuExit end, SimVcpu cpu) {
        assertEquals(ExitReason.SYSTEM_EVENT_SHUTDOWN, assertInstanceOf(VcpuExit.SystemEvent.class, end).type(),
                () -> "the guest failed: " + cpu.guestFailure());
    }

    @Test
    void anSnpPageConvertedInPlaceAndBackUntouchedDecryptsToItsPlaintextOnceValidatedAgain() {
        try (Vm v = Vm.create(SimProfile.INPLACE, SimHardware.AMD_SNP, VmType.X86_SNP)) {
            List<Long> seen = new CopyOnWriteArrayList<>();
            v.cpu().load(cpu -> {
                cpu.pvalidate(GPA, P, true);
                cpu.writeLong(GPA, 0x1234_5678_9abc_def1L);
                seen.add(cpu.readShared(GPA, 8)[0] & 0xffL);   // converted to shared: the ciphertext
                seen.add(cpu.pvalidate(GPA, P, true));           // converted back: not validated
                seen.add(cpu.readLong(GPA));                     // the same ciphertext, decrypted: the plaintext
            });
            assertShutdown(v.runConverting(), v.cpu());
            assertEquals(GuestCpu.PVALIDATE_SUCCESS, seen.get(1));
            assertEquals(0x1234_5678_9abc_def1L, seen.get(2));
            assertNotEquals(0xf1L, seen.get(0), "the shared face shows the plaintext's first byte (1 in 256 by chance)");
        }
    }

    @Test
    void aLegacyVmWideConversionLeavesTheRmpAloneButTakesThePageOutOfATd() {
        // Legacy memory whose VMM keeps both sides: SNP keeps the page validated with its plaintext.
        try (Vm v = Vm.create(SimProfile.K7_3, SimHardware.AMD_SNP, VmType.X86_SNP)) {
            v.vm().setMemoryAttributes(MemoryAttributes.of(GPA, 2L * P, MemoryAttribute.PRIVATE));
            List<Long> seen = new CopyOnWriteArrayList<>();
            v.cpu().load(cpu -> {
                cpu.pvalidate(GPA, P, true);
                cpu.writeLong(GPA, 0x5eed);
                cpu.readShared(GPA, 8);
                seen.add(cpu.pvalidate(GPA, P, true));
                seen.add(cpu.readLong(GPA));
            });
            assertShutdown(v.runConverting(), v.cpu());
            assertEquals(List.of(GuestCpu.PVALIDATE_FAIL_NOUPDATE, 0x5eedL), seen);
        }
        // TDX: any attribute change zaps the private mapping, so the page comes back PENDING and reads zero once accepted.
        try (Vm v = Vm.create(SimProfile.K7_3, SimHardware.INTEL_TDX, VmType.X86_TDX)) {
            v.vm().setMemoryAttributes(MemoryAttributes.of(GPA, 2L * P, MemoryAttribute.PRIVATE));
            List<Long> seen = new CopyOnWriteArrayList<>();
            v.cpu().load(cpu -> {
                cpu.acceptPage(GPA, P);
                cpu.writeLong(GPA, 0x5eed);
                cpu.readShared(GPA, 8);
                seen.add(cpu.acceptPage(GPA, P));
                seen.add(cpu.readLong(GPA));
            });
            assertShutdown(v.runConverting(), v.cpu());
            assertEquals(List.of(GuestCpu.TDX_SUCCESS, 0L), seen);
        }
    }

    @Test
    void releasingAPageEndsItsValidation() {
        try (Vm v = Vm.create(SimProfile.INPLACE, SimHardware.AMD_SNP, VmType.X86_SNP)) {
            v.convert(true);
            List<Long> seen = new CopyOnWriteArrayList<>();
            v.cpu().load(cpu -> {
                seen.add(cpu.pvalidate(GPA, P, true));
                cpu.out(0x80, 1, 0);
                seen.add(cpu.pvalidate(GPA, P, true));
            });
            assertInstanceOf(VcpuExit.Io.class, v.cpu().run());
            v.gmem().punchHole(0, P);   // the folio goes: sev_gmem_invalidate gives it back to the host
            assertShutdown(v.cpu().run(), v.cpu());
            assertEquals(List.of(GuestCpu.PVALIDATE_SUCCESS, GuestCpu.PVALIDATE_SUCCESS), seen);
        }
    }

    @Test
    void onlySnpGuestsValidateAndOnlyTdsAccept() {
        try (Vm v = Vm.create(SimProfile.INPLACE, SimHardware.AMD_SNP, VmType.X86_SW_PROTECTED)) {
            List<Throwable> thrown = new CopyOnWriteArrayList<>();
            v.cpu().load(cpu -> {
                thrown.add(assertThrows(IllegalStateException.class, () -> cpu.pvalidate(GPA, P, true)));
                thrown.add(assertThrows(IllegalStateException.class, () -> cpu.acceptPage(GPA, P)));
            });
            assertShutdown(v.cpu().run(), v.cpu());
            assertTrue(thrown.get(0).getMessage().contains("PVALIDATE is an SEV-SNP instruction"), thrown.get(0).getMessage());
            assertTrue(thrown.get(1).getMessage().contains("is no TD"), thrown.get(1).getMessage());
        }
    }

    @Test
    void aDeadTdAnswersEioToEveryVmAndVcpuIoctlButStillCloses() {
        Vm v = Vm.create(SimProfile.INPLACE, SimHardware.INTEL_TDX, VmType.X86_TDX);
        v.convert(true);
        v.cpu().load(cpu -> cpu.readLong(GPA));
        assertErrno(Errno.EIO, () -> v.cpu().run());
        assertErrno(Errno.EIO, () -> v.vm().setMemoryAttributes(MemoryAttributes.of(GPA, P, 0)));
        assertErrno(Errno.EIO, () -> v.vm().createVcpu(1));
        assertErrno(Errno.EIO, () -> v.cpu().memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, 0)));
        v.close();
        assertErrno(Errno.EBADF, () -> v.vm().createVcpu(1));
    }
}
