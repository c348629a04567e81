package org.janus.platform.api;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The parts of a machine spec a platform reads: its own options (the spec's {@code platform} object, as plain
 * values: strings, numbers, booleans, lists and maps), the vCPU count and model, and the images.
 *
 * @param options the platform's options by name, e.g. {@code policy} for SEV-SNP
 * @param vcpus number of vCPUs
 * @param cpuModel the vCPU model named as QEMU names it (e.g. {@code EPYC-Milan}), or null for the default
 * @param firmware the firmware image (e.g. OVMF), or null
 * @param kernel a kernel image, or null
 * @param initrd an initrd, or null
 * @param cmdline a kernel command line, or null
 */
public record PlatformSpec(Map<String, Object> options, int vcpus, String cpuModel, Path firmware, Path kernel,
                           Path initrd, String cmdline) {
    public PlatformSpec {
        options = Map.copyOf(options);
    }

    /** The option {@code name}, if present. */
    public Optional<Object> option(String name) { return Optional.ofNullable(options.get(name)); }
}
