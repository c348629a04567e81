package org.janus.hostreport;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What one KVM provider offers.
 *
 * @param provider {@code linux} or {@code sim}
 * @param description the provider's own one-line description (kernel release or modelled profile, hardware)
 * @param apiVersion KVM_GET_API_VERSION; anything but 12 means the host is unusable
 * @param vmTypesMask KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES) on /dev/kvm; 0 where the capability is absent
 *        (non-x86), which means only the default type
 * @param armIpaSize KVM_CHECK_EXTENSION(KVM_CAP_ARM_VM_IPA_SIZE): the maximum IPA bits on arm64, 0 elsewhere
 * @param vmTypes one entry per VM type probed: every type in the mask (or the default type), and on arm64 the
 *        protected type, which is listed even when it could not be created
 * @param platforms one entry per confidential platform, in {@link Platforms#ALL} order
 * @param diagnostics the provider's host diagnostics (kernel release, kvm module parameters): shown, never used
 *        to decide anything
 * @param kernelBuild one sentence on the memory-attribute interfaces the kernel was built and booted with: whether it
 *        carries the in-place conversion series (and which version), its module parameter
 *        {@code gmem_in_place_conversion} or the build without it, and the mode the probes found; from the probes,
 *        the kernel release and the parameter's sysfs file, and like the diagnostics never used to decide anything
 */
public record HostReport(
        String provider,
        String description,
        int apiVersion,
        int vmTypesMask,
        int armIpaSize,
        List<VmTypeReport> vmTypes,
        List<PlatformStrategy> platforms,
        Map<String, String> diagnostics,
        String kernelBuild) {

    public HostReport {
        vmTypes = List.copyOf(vmTypes);
        platforms = List.copyOf(platforms);
        diagnostics = Map.copyOf(diagnostics);
    }

    /** The probe of {@code type}, if it was probed. */
    public Optional<VmTypeReport> vmType(long type) {
        return vmTypes.stream().filter(t -> t.type() == type).findFirst();
    }

    /** The strategy of the platform named {@code name} (one of {@link Platforms#ALL}). */
    public Optional<PlatformStrategy> platform(String name) {
        return platforms.stream().filter(p -> p.platform().equals(name)).findFirst();
    }
}
