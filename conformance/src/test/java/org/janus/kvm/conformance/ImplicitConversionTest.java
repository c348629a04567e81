package org.janus.kvm.conformance;

import static org.janus.kvm.conformance.GuestRig.DATA_GPA;
import static org.janus.kvm.conformance.GuestRig.PORT_VALUE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Implicit conversion on SEV-SNP and TDX VMs (reference §5.6, §6.4): a guest access whose kind (private or shared)
 * mismatches the page's attribute exits with KVM_EXIT_MEMORY_FAULT (KVM_RUN -1/EFAULT), the VMM converts, and the
 * re-run access succeeds. The guest takes the page into use first as the hardware demands (PVALIDATE on SNP,
 * TDG.MEM.PAGE.ACCEPT on TDX: both private accesses, so they raise the first fault; {@link EncryptedMemoryTest}).
 * Such a guest needs a launched confidential VM, so only the software KVM runs it.
 */
class ImplicitConversionTest extends KvmTargetTest {

    static final int PATTERN = 0x6d;

    @ParameterizedTest(name = "VM type {0}")
    @ValueSource(longs = {VmType.X86_SNP, VmType.X86_TDX})
    void mismatchedAccessFaultsUntilConverted(long type) {
        assumeTrue((vmTypesMask() & (1L << type)) != 0,
                "VM type " + type + " (" + VmType.name(type) + ") not supported on this host (VM_TYPES=0x" + Long.toHexString(vmTypesMask()) + ")");
        VmCaps c = caps(type);
        assumeTrue(c.legacy() || c.inPlace(), c + ": neither memory-attribute mode");
        assumeTrue(!c.inPlace() || c.initShared(), c + ": in-place mode without GUEST_MEMFD_FLAG_INIT_SHARED");
        KvmVm vm = createVm(type);
        // A TD takes vCPUs only after KVM_TDX_INIT_VM, and runs them only once initialised and finalized.
        if (type == VmType.X86_TDX) TdxCommandsTest.initTd(vm);
        GuestRig rig = new GuestRig(this, vm, c, 2 * page);
        KvmVcpu vcpu = createVcpu(vm, 0);
        assumeTrue(vcpu instanceof SimVcpu, "an SNP/TDX guest needs a launched confidential VM; only the software KVM runs one here");
        if (type == VmType.X86_TDX) TdxCommandsTest.finalizeTd(vm, vcpu);
        ((SimVcpu) vcpu).load(cpu -> {
            if (type == VmType.X86_SNP) cpu.pvalidate(DATA_GPA, page, true);
            else cpu.acceptPage(DATA_GPA, page);
            cpu.writePrivate(DATA_GPA, filled((int) page, PATTERN));
            byte[] back = cpu.readPrivate(DATA_GPA, (int) page);
            for (byte b : back) if (b != PATTERN) throw new AssertionError("guest: private page lost its contents");
            cpu.out(PORT_VALUE, 4, cpu.readShared(DATA_GPA, 4)[0] & 0xff);
        });

        List<VcpuExit> exits = new ArrayList<>();
        VcpuExit exit = vcpu.run();
        exits.add(exit);
        VcpuExit.MemoryFault toPrivate = assertInstanceOf(VcpuExit.MemoryFault.class, exit, () -> "first exit " + exits + GuestRig.guestFailure(vcpu));
        assertTrue(toPrivate.isPrivate(), "a private access to a shared page: flags " + toPrivate.flags());
        assertEquals(ExitReason.MEMORY_EXIT_FLAG_PRIVATE, toPrivate.flags());
        assertEquals(DATA_GPA, toPrivate.gpa());
        assertEquals(page, toPrivate.size());
        assertEquals(Errno.EFAULT, toPrivate.errno());
        rig.convert(toPrivate.gpa(), toPrivate.size(), true);
        if (rig.inPlace) {
            expectErrno(Errno.EFAULT, "host read of the page converted to private", () -> rig.hostView.read(0, 1));
        }

        exit = vcpu.run();
        exits.add(exit);
        VcpuExit.MemoryFault toShared = assertInstanceOf(VcpuExit.MemoryFault.class, exit, () -> "second exit " + exits + GuestRig.guestFailure(vcpu));
        assertFalse(toShared.isPrivate(), "a shared access to a private page: flags " + toShared.flags());
        assertEquals(0, toShared.flags());
        assertEquals(DATA_GPA, toShared.gpa());
        assertEquals(page, toShared.size());
        rig.convert(toShared.gpa(), toShared.size(), false);

        exit = vcpu.run();
        exits.add(exit);
        VcpuExit.Io io = assertInstanceOf(VcpuExit.Io.class, exit, () -> "third exit " + exits + GuestRig.guestFailure(vcpu));
        assertEquals(PORT_VALUE, io.port());
        if (!rig.inPlace) {
            // Legacy: the shared side was discarded on the way to private, so the shared access reads zero (§9.1).
            assertEquals(0, io.value(), "legacy: the page converted back to shared reads zero");
        }
        exit = vcpu.run();
        exits.add(exit);
        VcpuExit.SystemEvent end = assertInstanceOf(VcpuExit.SystemEvent.class, exit, () -> "last exit " + exits + GuestRig.guestFailure(vcpu));
        assertEquals(ExitReason.SYSTEM_EVENT_SHUTDOWN, end.type(), () -> "guest ended with " + end + GuestRig.guestFailure(vcpu));
        rig.hostView.read(0, (int) page);
    }
}
