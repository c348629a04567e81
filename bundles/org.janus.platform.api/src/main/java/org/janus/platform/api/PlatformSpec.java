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
 * @param guestPhysicalEnd the first guest physical address above every RAM region and MMIO hole of the VM, which its
 *        guest physical (IPA) address space must reach; 0 where the memory map is not known
 */
public record PlatformSpec(Map<String, Object> options, int vcpus, String cpuModel, Path firmware, Path kernel,
                           Path initrd, String cmdline, long guestPhysicalEnd) {
    public PlatformSpec {
        options = Map.copyOf(options);
        if (guestPhysicalEnd < 0) throw new IllegalArgumentException("guestPhysicalEnd " + guestPhysicalEnd + " is negative");
    }

    /** A spec without its memory map ({@link #guestPhysicalEnd()} 0). */
    public PlatformSpec(Map<String, Object> options, int vcpus, String cpuModel, Path firmware, Path kernel, Path initrd,
                        String cmdline) {
        this(options, vcpus, cpuModel, firmware, kernel, initrd, cmdline, 0);
    }

    /** The option {@code name}, if present. */
    public Optional<Object> option(String name) { return Optional.ofNullable(options.get(name)); }
}
