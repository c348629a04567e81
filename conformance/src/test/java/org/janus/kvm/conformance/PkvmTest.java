package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.MemslotFlags;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.api.program.ProgrammableVcpu;
import org.junit.jupiter.api.Test;

/**
 * arm64 pKVM protected VMs: the machine type with its IPA size, the memslot rules of kvm_arch_prepare_memory_region
 * (Documentation/virt/kvm/arm/pkvm.rst: no move or delete once the VM has run, no read-only or dirty-logged slots,
 * each EPERM), and the guest's MEM_SHARE/MEM_UNSHARE (hypercalls.rst) reaching the VMM as KVM_EXIT_HYPERCALL where a
 * protected VM is guest_memfd-backed (the pKVM guest_memfd series; see org.janus.platform.pkvm). Every case needs a
 * host that creates KVM_VM_TYPE_ARM_PROTECTED; the guest cases run guest programs, which only a modelled KVM runs.
 */
class PkvmTest extends KvmTargetTest {
    static final long RAM = 1L << 30;

    /** The protected VM type with KVM's default IPA size; skips the case where pKVM does not accept it. */
    long requirePkvm() {
        assumeTrue(isArm64(), "pKVM is arm64's: KVM_CAP_ARM_VM_IPA_SIZE is 0 here");
        assumeTrue(vmTypes().stream().anyMatch(t -> (t & VmType.ARM_PROTECTED) != 0),
                "KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED) fails: pKVM is not enabled (kvm-arm.mode=protected)");
        return VmType.ARM_PROTECTED;
    }

    /**
     * A protected VM whose KVM_RUN can be entered: with immediate_exit set it returns at once, but the first entry has
     * created pKVM's hypervisor VM. A kernel answers ENOEXEC before KVM_ARM_VCPU_INIT, which this API does not offer.
     */
    KvmVcpu enterOnce(KvmVm vm) {
        KvmVcpu vcpu = createVcpu(vm, 0);
        vcpu.setImmediateExit(true);
        try {
            assertInstanceOf(VcpuExit.Interrupted.class, vcpu.run());
        } catch (KvmException e) {
            assumeTrue(!e.is(Errno.ENOEXEC), "KVM_RUN before KVM_ARM_VCPU_INIT answers ENOEXEC, and this API has no "
                    + "KVM_ARM_VCPU_INIT: " + e.getMessage());
            throw e;
        }
        vcpu.setImmediateExit(false);
        return vcpu;
    }

    // ---- the machine type ----

    @Test
    void theProtectedTypeCarriesAnIpaSizeWithinTheHostsLimit() throws Exception {
        requirePkvm();
        int limit = kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE);
        kvm.createVm(VmType.ARM_PROTECTED | 32).close();
        kvm.createVm(VmType.ARM_PROTECTED | limit).close();
        expectErrno(Errno.EINVAL, "IPA size 31", () -> kvm.createVm(VmType.ARM_PROTECTED | 31).close());
        expectErrno(Errno.EINVAL, "IPA size " + (limit + 1) + " over KVM_CAP_ARM_VM_IPA_SIZE=" + limit,
                () -> kvm.createVm(VmType.ARM_PROTECTED | (limit + 1)).close());
        expectErrno(Errno.EINVAL, "an unknown machine type bit", () -> kvm.createVm(VmType.ARM_PROTECTED | (1L << 20)).close());
        KvmVm vm = createVm(VmType.ARM_PROTECTED | 32);
        HostMapping shared = map(createMemfd(2 * page), 0, 2 * page);
        expectErrno(Errno.EFAULT, "a memslot ending beyond the 32-bit IPA space",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, (1L << 32) - page, 2 * page, shared.address())));
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, (1L << 32) - 2 * page, 2 * page, shared.address()));
    }

    // ---- memslots ----

    @Test
    void aProtectedVmRefusesReadOnlyAndDirtyLoggedSlots() {
        KvmVm vm = createVm(requirePkvm());
        HostMapping shared = map(createMemfd(2 * page), 0, 2 * page);
        for (int flags : new int[] {MemslotFlags.READONLY, MemslotFlags.LOG_DIRTY_PAGES}) {
            expectErrno(Errno.EPERM, "a protected VM's slot with flags 0x" + Integer.toHexString(flags),
                    () -> vm.setUserMemoryRegion2(new UserMemoryRegion2(0, flags, RAM, page, shared.address(), 0, null)));
        }
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, RAM, page, shared.address()));
    }

    @Test
    void aProtectedVmsSlotsCannotMoveOrGoOnceItHasRun() {
        KvmVm vm = createVm(requirePkvm());
        HostMemfd memfd = createMemfd(4 * page);
        HostMapping shared = map(memfd, 0, 4 * page);
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, RAM, 2 * page, shared.address()));
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, RAM + 16 * page, 2 * page, shared.address()));  // a move: fine before
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, RAM, 2 * page, shared.address()));
        enterOnce(vm);
        expectErrno(Errno.EPERM, "delete after the first KVM_RUN", () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, 0, 0, 0)));
        expectErrno(Errno.EPERM, "move after the first KVM_RUN",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(0, RAM + 32 * page, 2 * page, shared.address())));
        expectErrno(Errno.EEXIST, "slot 0 is still where it was",
                () -> vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, RAM + page, page, shared.address() + 2 * page)));
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, RAM + 2 * page, 2 * page, shared.address() + 2 * page));
    }

    // ---- share and unshare ----

    /** A protected VM with four guest_memfd pages at {@link #RAM}, private, and share/unshare exits as {@code enable}. */
    private record Pvm(KvmVm vm, GuestMemfd gmem, HostMapping view, ProgrammableVcpu vcpu) {}

    private Pvm guestMemfdPvm(boolean enable) {
        long type = requirePkvm();
        VmCaps caps = caps(type);
        assumeTrue(caps.inPlace() && caps.mmap(), "protected VMs here are not guest_memfd-backed with in-place attributes (" + caps + ")");
        assumeTrue((caps.exitHypercall() & ArmSmccc.PKVM_EXIT_HYPERCALL_MASK) == ArmSmccc.PKVM_EXIT_HYPERCALL_MASK,
                "MEM_SHARE and MEM_UNSHARE cannot exit to userspace here (" + caps + ")");
        KvmVm vm = createVm(type);
        GuestMemfd gmem = createGmem(vm, 4 * page, GuestMemfdFlags.MMAP);
        HostMapping view = map(gmem, 0, 4 * page);
        vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, RAM, 4 * page, view.address(), gmem, 0));
        if (enable) vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK));
        KvmVcpu vcpu = createVcpu(vm, 0);
        assumeTrue(vcpu instanceof ProgrammableVcpu, "the guest of this case is a guest program; this KVM runs machine code");
        return new Pvm(vm, gmem, view, (ProgrammableVcpu) vcpu);
    }

    private static void expectEnd(ProgrammableVcpu vcpu) {
        assertEquals(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[0]), vcpu.run(),
                () -> "the guest failed: " + vcpu.guestFailure().map(Throwable::toString).orElse("-"));
    }

    @Test
    void enablingTheExitsTakesOnlyShareAndUnshare() {
        Pvm p = guestMemfdPvm(false);
        expectErrno(Errno.EINVAL, "KVM_HC_MAP_GPA_RANGE's bit on arm64",
                () -> p.vm().enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << 12)));
        expectErrno(Errno.EINVAL, "args[1] set", () -> p.vm().enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL,
                ArmSmccc.PKVM_EXIT_HYPERCALL_MASK, 1)));
        p.vm().enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK));
    }

    @Test
    void aShareAndAnUnshareExitWithTheFunctionNumberAndKeepTheContents() {
        Pvm p = guestMemfdPvm(true);
        byte[] guestData = pageOf(0x5a);
        byte[] hostData = pageOf(0xc3);
        List<Long> answers = new ArrayList<>();
        p.vcpu().load(g -> {
            g.write(RAM + page, guestData);
            answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM + page, 0, 0));
            answers.add(g.smccc(ArmSmccc.KVM_MEM_UNSHARE, RAM + page, 0, 0));
            if (!Arrays.equals(hostData, g.read(RAM + page, (int) page))) throw new IllegalStateException("the host's data was lost");
        });
        assertThrows(KvmException.class, () -> p.view().read(page, 8), "the page starts private: the host cannot read it");
        VcpuExit.Hypercall share = assertInstanceOf(VcpuExit.Hypercall.class, p.vcpu().run());
        assertEquals(new VcpuExit.Hypercall(ArmSmccc.KVM_FUNC_MEM_SHARE, new long[] {RAM + page, 0, 0, 0, 0, 0}, 0), share);
        p.gmem().setMemoryAttributes2(MemoryAttributes2.of(page, page, 0));
        assertArrayEquals(guestData, p.view().read(page, (int) page), "shared in place: the host reads what the guest wrote");
        p.view().write(page, hostData);
        p.vcpu().completeHypercall(ArmSmccc.RET_SUCCESS);
        VcpuExit.Hypercall unshare = assertInstanceOf(VcpuExit.Hypercall.class, p.vcpu().run());
        assertEquals(new VcpuExit.Hypercall(ArmSmccc.KVM_FUNC_MEM_UNSHARE, new long[] {RAM + page, 0, 0, 0, 0, 0}, 0), unshare);
        p.gmem().setMemoryAttributes2(MemoryAttributes2.of(page, page, MemoryAttribute.PRIVATE));
        assertThrows(KvmException.class, () -> p.view().read(page, 8), "unshared: the host's mapping is revoked");
        p.vcpu().completeHypercall(ArmSmccc.RET_SUCCESS);
        expectEnd(p.vcpu());
        assertEquals(List.of(ArmSmccc.RET_SUCCESS, ArmSmccc.RET_SUCCESS), answers);
    }

    @Test
    void badArgumentsAreRefusedByTheHypervisorWithoutAnExit() {
        Pvm p = guestMemfdPvm(true);
        List<Long> answers = new ArrayList<>();
        GuestProgram hostile = g -> {
            answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 1, 0));
            answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 0, 1));
            answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM + 8, 0, 0));
            answers.add(g.smccc(ArmSmccc.KVM_MEM_UNSHARE, RAM, 0, 0));
            answers.add(g.smccc(ArmSmccc.KVM_HYP_MEMINFO, 0, 0, 1));
        };
        p.vcpu().load(hostile);
        expectEnd(p.vcpu());
        long inv = ArmSmccc.RET_INVALID_PARAMETER;
        assertEquals(List.of(inv, inv, inv, inv, inv), answers);
        assertThrows(KvmException.class, () -> p.view().read(0, 8), "nothing was shared");
    }

    @Test
    void withoutTheExitTheGuestHearsInvalidParameter() {
        Pvm p = guestMemfdPvm(false);
        List<Long> answers = new ArrayList<>();
        p.vcpu().load(g -> {
            answers.add(g.smccc(ArmSmccc.KVM_HYP_MEMINFO));
            answers.add(g.smccc(ArmSmccc.KVM_MEM_SHARE, RAM, 0, 0));
        });
        expectEnd(p.vcpu());
        assertEquals(List.of(page, ArmSmccc.RET_INVALID_PARAMETER), answers);
    }
}
