package org.janus.platform.none.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.osgi.service.component.annotations.Component;

/**
 * A plain VM: KVM's default machine type on x86 and arm64, all memory shared, nothing to initialise, nothing
 * measured. It exists so that the same machine runs confidential and ordinary guests.
 */
@Component(service = ConfidentialPlatform.class, property = ConfidentialPlatform.PROPERTY + "=" + ConfidentialPlatform.NONE)
public final class NonePlatform implements ConfidentialPlatform {

    @Override public String id() { return NONE; }

    @Override public long vmType(Kvm kvm) { return VmType.DEFAULT; }

    @Override public Support support(Kvm kvm) {
        return Support.yes("every KVM host runs the default VM type");
    }

    @Override public PageState initialRamState() { return PageState.SHARED; }

    @Override public List<Problem> validate(PlatformSpec spec) {
        List<Problem> problems = new ArrayList<>();
        for (String option : spec.options().keySet())
            problems.add(new Problem("$.platform." + option, "unknown option: the none platform takes no options"));
        imageProblem("firmware", spec.firmware() != null, problems);
        imageProblem("kernel", spec.kernel() != null, problems);
        imageProblem("initrd", spec.initrd() != null, problems);
        imageProblem("cmdline", spec.cmdline() != null, problems);
        return problems;
    }

    /** Booting a plain VM from images is not built yet; a spec that names one should not run as if it had. */
    static void imageProblem(String member, boolean given, List<Problem> problems) {
        if (given) problems.add(new Problem("$.images." + member, "the none platform does not load images yet; leave it out"));
    }

    @Override public void initVm(VmContext context) {}

    @Override public void initVcpu(VmContext context, KvmVcpu vcpu) {}

    @Override public LaunchResult launch(VmContext context) {
        return LaunchResult.unmeasured("plain VM: nothing to load or measure");
    }

    @Override public ExitAction onExit(VmContext context, KvmVcpu vcpu, VcpuExit exit) { return ExitAction.UNHANDLED; }

    @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) { return Optional.empty(); }
}
