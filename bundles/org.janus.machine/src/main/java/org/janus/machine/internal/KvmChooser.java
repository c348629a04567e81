package org.janus.machine.internal;

import java.util.List;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.program.ModelledKvm;
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

    /**
     * The software KVM (a {@link ModelledKvm} registered as {@code sim}) for the spec's profile and hardware: the
     * registered host when it models them, else an independent host of the same model.
     */
    private static Choice sim(KvmSection spec, String why, ServiceDirectory services, List<SpecProblem> problems) {
        List<ModelledKvm> registered = services.kvms("sim").stream().filter(k -> k instanceof ModelledKvm).map(k -> (ModelledKvm) k).toList();
        if (registered.isEmpty()) {
            problems.add(new SpecProblem("$.kvm.provider", "no software KVM is registered (the sim feature is not started)"));
            return null;
        }
        ModelledKvm best = registered.get(0);
        boolean bad = false;
        if (spec.profile() != null && !best.profileIds().contains(spec.profile())) {
            problems.add(new SpecProblem("$.kvm.profile", "unknown kernel profile '" + spec.profile() + "'; use one of " + String.join(", ", best.profileIds())));
            bad = true;
        }
        if (spec.hardware() != null && !best.hardwareIds().contains(spec.hardware())) {
            problems.add(new SpecProblem("$.kvm.hardware", "unknown hardware '" + spec.hardware() + "'; use one of " + String.join(", ", best.hardwareIds())));
            bad = true;
        }
        if (bad) return null;
        String p = spec.profile() != null ? spec.profile() : best.profileId();
        String h = spec.hardware() != null ? spec.hardware() : best.hardwareId();
        String what = "sim (" + why + "): profile " + p + ", hardware " + h;
        for (ModelledKvm k : registered) {
            if (k.profileId().equals(p) && k.hardwareId().equals(h)) return new Choice(k, what + ", the registered software KVM");
        }
        return new Choice(best.host(p, h), what + ", a software KVM host of its own");
    }
}
