package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;

/** What the model keeps of the irqchip ioctls, beyond the errnos the conformance suite checks on every target. */
class SimIrqchipTest {

    @Test
    void irqLineRecordsTheLevelOfRoutedGsisOnly() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            SimIrqchip chip = ((SimVm) vm).irqchip();
            vm.createIrqchip();
            assertNull(chip.level(4));
            vm.irqLine(4, true);
            assertTrue(chip.level(4));
            vm.irqLine(4, false);
            assertFalse(chip.level(4));
            vm.irqLine(24, true);
            vm.irqLine(-1, true);
            assertNull(chip.level(24), "GSI 24 has no route in the default table");
            assertNull(chip.level(-1));
        }
    }

    @Test
    void aFailedCreateLeavesNoIrqchipBehind() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.DEFAULT)) {
            kvm.injectFault(SimIrqchip.CREATE_IRQCHIP, Errno.ENOMEM, 0);
            assertErrno(Errno.ENOMEM, vm::createIrqchip);
            assertErrno(Errno.ENXIO, () -> vm.irqLine(4, true));
            assertErrno(Errno.ENOENT, () -> vm.createPit2(0));
            vm.createIrqchip();
            kvm.injectFault(SimIrqchip.CREATE_PIT2, Errno.ENOMEM, 0);
            assertErrno(Errno.ENOMEM, () -> vm.createPit2(KvmVm.PIT_SPEAKER_DUMMY));
            vm.createPit2(KvmVm.PIT_SPEAKER_DUMMY);
            SimIrqchip chip = ((SimVm) vm).irqchip();
            assertTrue(chip.hasPit());
            assertEquals(KvmVm.PIT_SPEAKER_DUMMY, chip.pitFlags());
        }
    }

    @Test
    void theRealModeAddressesAreKeptAndAClosedVmAnswersEbadf() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.INTEL_TDX);
        KvmVm vm = kvm.createVm(VmType.DEFAULT);
        SimIrqchip chip = ((SimVm) vm).irqchip();
        assertEquals(-1, chip.tssAddr());
        vm.setTssAddr(0xfffbd000L);
        vm.setIdentityMapAddr(0xfeffc000L);
        assertEquals(0xfffbd000L, chip.tssAddr());
        assertEquals(0xfeffc000L, chip.identityMapAddr());
        vm.close();
        assertErrno(Errno.EBADF, vm::createIrqchip);
        assertErrno(Errno.EBADF, () -> vm.setTssAddr(0));
    }
}
