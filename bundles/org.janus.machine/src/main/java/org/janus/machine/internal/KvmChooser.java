package org.janus.machine.internal;

import java.util.List;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.MachineSpec;
import org.janus.machine.MachineSpec.KvmSection;
import org.janus.machine.SpecProblem;
import org.janus.platform.api.ConfidentialPlatform;

/**
 * Which KVM runs a VM. {@code linux} and {@code sim} name a provider; {@code auto} takes the real kernel when one
 * is registered, no guest program is named (only the software KVM runs those) and the platform says the kernel
 * supports it, else the software KVM. A sim profile or hardware in the spec that differs from the registered
 * software KVM's gets a software KVM of its own: each is an independent host, so VMs of different modelled
 * kernels can run side by side.
 */
final class KvmChooser {
    /** What the software KVM component models when nothing configures it. */
    static final SimProfile DEFAULT_PROFILE = SimProfile.INPLACE;
    static final SimHardware DEFAULT_HARDWARE = SimHardware.AMD_SNP;

    /** The chosen KVM and a sentence saying which and why. */
    record Choice(Kvm kvm, String reason) {}

    private KvmChooser() {}

    /**
     * @param platform the spec's platform if it is registered, else null
     * @return the choice, or null after adding the problems to {@code problems}
     */
    static Choice choose(KvmSection spec, ConfidentialPlatform platform, boolean guestProgram, ServiceDirectory services,
                         List<SpecProblem> problems) {
        String provider = spec.provider();
        boolean simOptions = spec.profile() != null || spec.hardware() != null;
        switch (provider) {
            case "linux" -> {
                if (simOptions) {
                    if (spec.profile() != null) problems.add(new SpecProblem("$.kvm.profile", "configures the software KVM; the linux provider is the real kernel"));
                    if (spec.hardware() != null) problems.add(new SpecProblem("$.kvm.hardware", "configures the software KVM; the linux provider is the real kernel"));
                    return null;
                }
                Kvm linux = services.kvm("linux").orElse(null);
                if (linux == null) {
                    problems.add(new SpecProblem("$.kvm.provider", "no linux KVM provider is registered (it registers only where /dev/kvm opens)"));
                    return null;
                }
                return new Choice(linux, "linux (requested): " + linux.description());
            }
            case "sim" -> {
                return sim(spec, "requested", services, problems);
            }
            case MachineSpec.AUTO -> {
                Kvm linux = services.kvm("linux").orElse(null);
                String why;
                if (linux == null) why = "auto: no linux provider is registered";
                else if (guestProgram) why = "auto: guest programs run only on the software KVM";
                else {
                    ConfidentialPlatform.Support s = platform == null ? null : platform.support(linux);
                    if (s == null || s.supported()) return new Choice(linux, "linux (auto: the real kernel): " + linux.description());
                    why = "auto: the real kernel cannot run " + platform.id() + ": " + s.reason();
                }
                return sim(spec, why, services, problems);
            }
            default -> {
                problems.add(new SpecProblem("$.kvm.provider", "unknown provider '" + provider + "'; use auto, linux or sim"));
                return null;
            }
        }
    }

    private static Choice sim(KvmSection spec, String why, ServiceDirectory services, List<SpecProblem> problems) {
        SimProfile profile = null;
        SimHardware hardware = null;
        boolean bad = false;
        if (spec.profile() != null) {
            try {
                profile = SimProfile.byId(spec.profile());
            } catch (IllegalArgumentException e) {
                problems.add(new SpecProblem("$.kvm.profile", e.getMessage()));
                bad = true;
            }
        }
        if (spec.hardware() != null) {
            try {
                hardware = SimHardware.byId(spec.hardware());
            } catch (IllegalArgumentException e) {
                problems.add(new SpecProblem("$.kvm.hardware", e.getMessage()));
                bad = true;
            }
        }
        if (bad) return null;
        List<SimKvm> registered = services.kvms("sim").stream().filter(k -> k instanceof SimKvm).map(k -> (SimKvm) k).toList();
        SimKvm best = registered.isEmpty() ? null : registered.get(0);
        SimProfile p = profile != null ? profile : best != null ? best.profile() : DEFAULT_PROFILE;
        SimHardware h = hardware != null ? hardware : best != null ? best.hardware() : DEFAULT_HARDWARE;
        String what = "sim (" + why + "): profile " + p.id() + ", hardware " + h.id();
        for (SimKvm k : registered) {
            if (k.profile() == p && k.hardware() == h) return new Choice(k, what + ", the registered software KVM");
        }
        return new Choice(SimKvm.create(p, h), what + ", a software KVM host of its own");
    }
}
