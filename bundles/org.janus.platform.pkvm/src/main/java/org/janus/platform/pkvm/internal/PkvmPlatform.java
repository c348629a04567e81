package org.janus.platform.pkvm.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.osgi.service.component.annotations.Component;

/**
 * arm64 pKVM protected VMs: KVM_VM_TYPE_ARM_PROTECTED with the IPA size the memory map needs, guest memory in
 * guest_memfd converted in place, and the guest's MEM_SHARE and MEM_UNSHARE calls turned into conversions of the
 * granule they name (see the package documentation for how they reach the VMM and why so).
 */
@Component(service = ConfidentialPlatform.class, property = ConfidentialPlatform.PROPERTY + "=" + ConfidentialPlatform.PKVM)
public final class PkvmPlatform implements ConfidentialPlatform {

    @Override public String id() { return PKVM; }

    /** The type without a memory map: KVM's default IPA size (40 bits). */
    @Override public long vmType(Kvm kvm) { return VmType.ARM_PROTECTED; }

    /** The IPA size the memory map needs, at least 32 bits (the default 40 only where the map is not known). */
    @Override public long vmType(Kvm kvm, PlatformSpec spec) {
        if (spec.guestPhysicalEnd() == 0) return vmType(kvm);
        return IpaSize.reaching(spec.guestPhysicalEnd()).protectedVmType();
    }

    /**
     * pKVM must accept protected VMs, and give them what this platform needs: guest_memfd attributes (so that a share
     * keeps the page's contents and an unshare revokes the host's mapping) and share/unshare exits to the VMM.
     */
    @Override public Support support(Kvm kvm) {
        int ipaLimit = kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE);
        if (ipaLimit <= 0) return Support.no("not an arm64 host (KVM_CAP_ARM_VM_IPA_SIZE=" + ipaLimit + "): pKVM is arm64's");
        try (KvmVm probe = kvm.createVm(VmType.ARM_PROTECTED)) {
            long gmemAttributes = Integer.toUnsignedLong(probe.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES));
            long exits = Integer.toUnsignedLong(probe.checkExtension(KvmCap.EXIT_HYPERCALL));
            String caps = "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x" + Long.toHexString(gmemAttributes)
                    + ", KVM_CAP_EXIT_HYPERCALL=0x" + Long.toHexString(exits);
            if ((gmemAttributes & MemoryAttribute.PRIVATE) == 0)
                return Support.no("protected VMs here are not backed by guest_memfd with private attributes (" + caps
                        + "): pKVM shares and unshares their anonymous memory itself and never tells the VMM; this platform"
                        + " needs the in-place conversion series");
            if ((exits & ArmSmccc.PKVM_EXIT_HYPERCALL_MASK) != ArmSmccc.PKVM_EXIT_HYPERCALL_MASK)
                return Support.no("MEM_SHARE and MEM_UNSHARE cannot exit to the VMM (" + caps + " lacks bits 3 and 4)");
            return Support.yes("KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED) accepted, IPA up to " + ipaLimit + " bits; " + caps
                    + ": guest_memfd converted in place, shares and unshares reach the VMM");
        } catch (KvmException e) {
            return Support.no("KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED) failed with " + Errno.name(e.errno())
                    + ": pKVM is not enabled (boot the host with kvm-arm.mode=protected)");
        }
    }

    /** A protected VM's memory is the guest's until it shares a page. */
    @Override public PageState initialRamState() { return PageState.PRIVATE; }

    @Override public List<Problem> validate(PlatformSpec spec) {
        List<Problem> problems = new ArrayList<>();
        for (String option : spec.options().keySet())
            problems.add(new Problem("$.platform." + option, "unknown option: the pkvm platform takes no options"));
        imageProblem("firmware", spec.firmware() != null, problems);
        imageProblem("kernel", spec.kernel() != null, problems);
        imageProblem("initrd", spec.initrd() != null, problems);
        imageProblem("cmdline", spec.cmdline() != null, problems);
        if (spec.guestPhysicalEnd() > 0) {
            try {
                IpaSize.reaching(spec.guestPhysicalEnd());
            } catch (IllegalArgumentException e) {
                problems.add(new Problem("$.memory", "the memory map cannot be addressed by an arm64 VM: " + e.getMessage()));
            }
        }
        return problems;
    }

    /** Also: the IPA size the memory map needs must be one this host allows. */
    @Override public List<Problem> validate(PlatformSpec spec, Kvm kvm) {
        List<Problem> problems = validate(spec);
        if (spec.guestPhysicalEnd() == 0 || problems.stream().anyMatch(p -> p.path().equals("$.memory"))) return problems;
        IpaSize needed = IpaSize.reaching(spec.guestPhysicalEnd());
        int limit = kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE);
        if (limit > 0 && needed.bits() > limit)
            problems.add(new Problem("$.memory", "the memory map ends at 0x" + Long.toHexString(spec.guestPhysicalEnd())
                    + ", which needs a " + needed + " IPA space; this host allows at most " + limit + " bits (KVM_CAP_ARM_VM_IPA_SIZE)"));
        return problems;
    }

    /** Upstream pKVM has no protected VM firmware yet (pkvm.rst), so there is nothing to load a guest with. */
    private static void imageProblem(String member, boolean given, List<Problem> problems) {
        if (given) problems.add(new Problem("$.images." + member, "the pkvm platform does not load images yet; leave it out"));
    }

    /** Lets MEM_SHARE and MEM_UNSHARE reach the VMM; without that KVM refuses them to the guest. */
    @Override public void initVm(VmContext context) {
        long offered = Integer.toUnsignedLong(context.vm().checkExtension(KvmCap.EXIT_HYPERCALL));
        if ((offered & ArmSmccc.PKVM_EXIT_HYPERCALL_MASK) != ArmSmccc.PKVM_EXIT_HYPERCALL_MASK)
            throw new PlatformException(PKVM, "enable KVM_CAP_EXIT_HYPERCALL", "the VM offers 0x" + Long.toHexString(offered)
                    + ", without MEM_SHARE and MEM_UNSHARE (0x" + Long.toHexString(ArmSmccc.PKVM_EXIT_HYPERCALL_MASK) + ")", null);
        try {
            context.vm().enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, ArmSmccc.PKVM_EXIT_HYPERCALL_MASK));
        } catch (KvmException e) {
            throw new PlatformException(PKVM, "enable KVM_CAP_EXIT_HYPERCALL", e.getMessage(), e);
        }
    }

    @Override public void initVcpu(VmContext context, KvmVcpu vcpu) {}

    @Override public LaunchResult launch(VmContext context) {
        return LaunchResult.unmeasured("pKVM protected VM: memory starts private to the guest; nothing to load or measure"
                + " (upstream pKVM has no protected VM firmware yet)");
    }

    /** MEM_SHARE and MEM_UNSHARE: one granule converted, and SMCCC's answer to the guest. */
    @Override public ExitAction onExit(VmContext context, KvmVcpu vcpu, VcpuExit exit) {
        if (!(exit instanceof VcpuExit.Hypercall h)) return ExitAction.UNHANDLED;
        boolean share = h.nr() == ArmSmccc.KVM_FUNC_MEM_SHARE;
        if (!share && h.nr() != ArmSmccc.KVM_FUNC_MEM_UNSHARE) return ExitAction.UNHANDLED;
        vcpu.completeHypercall(shareOrUnshare(context, vcpu.id(), h, share));
        return ExitAction.RESUME;
    }

    /**
     * The granule is the host's page (HYP_MEMINFO's answer). The hypervisor checked the arguments before the exit; the
     * VMM checks what it is handed all the same, and a request it cannot honour changes nothing and is refused.
     */
    private static long shareOrUnshare(VmContext context, int vcpu, VcpuExit.Hypercall h, boolean share) {
        long ipa = h.arg(0);
        long granule = context.kvm().pageSize();
        String what = "vCPU " + vcpu + ": " + (share ? "MEM_SHARE" : "MEM_UNSHARE") + "(0x" + Long.toHexString(ipa) + ")";
        long end = context.spec().guestPhysicalEnd();
        if (h.arg(1) != 0 || h.arg(2) != 0 || Math.floorMod(ipa, granule) != 0) {
            context.log(what + " refused: x2 and x3 must be 0 and the IPA aligned to the 0x" + Long.toHexString(granule)
                    + " granule (x2=0x" + Long.toHexString(h.arg(1)) + ", x3=0x" + Long.toHexString(h.arg(2)) + ")");
            return ArmSmccc.RET_INVALID_PARAMETER;
        }
        if (ipa < 0 || end > 0 && ipa > end - granule) {
            context.log(what + " refused: the IPA is beyond the memory map, which ends at 0x" + Long.toHexString(end));
            return ArmSmccc.RET_INVALID_PARAMETER;
        }
        try {
            context.convert(ipa, granule, share ? PageState.SHARED : PageState.PRIVATE);
            return ArmSmccc.RET_SUCCESS;
        } catch (PlatformException e) {
            // With a cause the conversion could not be undone and the VM must stop; without one nothing changed.
            if (e.getCause() != null) throw e;
            context.log(what + " refused: " + e.getMessage());
            return ArmSmccc.RET_INVALID_PARAMETER;
        }
    }

    @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) { return Optional.empty(); }
}
