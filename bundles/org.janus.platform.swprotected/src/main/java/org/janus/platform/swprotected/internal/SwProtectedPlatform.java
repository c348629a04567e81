package org.janus.platform.swprotected.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
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
 * KVM's software-protected VM (KVM_X86_SW_PROTECTED_VM): private memory in guest_memfd, with no hardware keeping
 * the host out, for development and testing of the private/shared machinery. KVM derives the access kind from the
 * page attribute; guests convert with KVM_HC_MAP_GPA_RANGE, which exits to the VMM once KVM_CAP_EXIT_HYPERCALL is
 * enabled. RAM starts private, as QEMU starts confidential guests, unless the option {@code initialState} says
 * {@code shared}. Nothing is measured.
 */
@Component(service = ConfidentialPlatform.class, property = ConfidentialPlatform.PROPERTY + "=" + ConfidentialPlatform.SW_PROTECTED)
public final class SwProtectedPlatform implements ConfidentialPlatform {
    /** Option: the state RAM starts in, {@code private} (default) or {@code shared}. */
    static final String INITIAL_STATE = "initialState";
    static final long MAP_GPA_RANGE_BIT = 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE;

    @Override public String id() { return SW_PROTECTED; }

    @Override public long vmType(Kvm kvm) { return VmType.X86_SW_PROTECTED; }

    @Override public Support support(Kvm kvm) {
        long types = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.VM_TYPES));
        String mask = "KVM_CAP_VM_TYPES=0x" + Long.toHexString(types);
        if ((types & (1L << VmType.X86_SW_PROTECTED)) != 0) return Support.yes(mask + " has type 1 (KVM_X86_SW_PROTECTED_VM)");
        return Support.no(mask + " lacks type 1 (KVM_X86_SW_PROTECTED_VM): it needs an x86 host whose kernel has "
                + "CONFIG_KVM_SW_PROTECTED_VM" + (types == 0 ? "; a mask of 0 means no VM types beyond the default (or not x86)" : ""));
    }

    @Override public PageState initialRamState() { return PageState.PRIVATE; }

    @Override public PageState initialRamState(PlatformSpec spec) {
        return "shared".equals(spec.option(INITIAL_STATE).orElse("private")) ? PageState.SHARED : PageState.PRIVATE;
    }

    @Override public List<Problem> validate(PlatformSpec spec) {
        List<Problem> problems = new ArrayList<>();
        spec.options().forEach((name, value) -> {
            if (!name.equals(INITIAL_STATE)) {
                problems.add(new Problem("$.platform." + name, "unknown option; sw-protected knows: " + INITIAL_STATE));
            } else if (!"private".equals(value) && !"shared".equals(value)) {
                problems.add(new Problem("$.platform." + name, value + " is not \"private\" or \"shared\""));
            }
        });
        for (String member : List.of("firmware", "kernel", "initrd", "cmdline")) {
            boolean given = switch (member) {
                case "firmware" -> spec.firmware() != null;
                case "kernel" -> spec.kernel() != null;
                case "initrd" -> spec.initrd() != null;
                default -> spec.cmdline() != null;
            };
            if (given) problems.add(new Problem("$.images." + member, "the sw-protected platform does not load images yet; leave it out"));
        }
        return problems;
    }

    /** Lets MAP_GPA_RANGE reach the machine, which converts; without it KVM answers the guest -KVM_ENOSYS itself. */
    @Override public void initVm(VmContext context) {
        long offered = Integer.toUnsignedLong(context.vm().checkExtension(KvmCap.EXIT_HYPERCALL));
        if ((offered & MAP_GPA_RANGE_BIT) == 0) {
            context.log("KVM_CAP_EXIT_HYPERCALL=0x" + Long.toHexString(offered) + " lacks MAP_GPA_RANGE: the guest cannot ask for conversions");
            return;
        }
        try {
            context.vm().enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, MAP_GPA_RANGE_BIT));
        } catch (RuntimeException e) {
            throw new PlatformException(SW_PROTECTED, "enable KVM_CAP_EXIT_HYPERCALL", e.getMessage(), e);
        }
    }

    @Override public void initVcpu(VmContext context, KvmVcpu vcpu) {}

    @Override public LaunchResult launch(VmContext context) {
        return LaunchResult.unmeasured("software-protected VM: nothing to load or measure (RAM starts "
                + initialRamState(context.spec()).name().toLowerCase(java.util.Locale.ROOT) + ")");
    }

    @Override public ExitAction onExit(VmContext context, KvmVcpu vcpu, VcpuExit exit) { return ExitAction.UNHANDLED; }

    @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) { return Optional.empty(); }
}
