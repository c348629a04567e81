package org.janus.platform.api;

import java.nio.file.Path;
import java.util.List;
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
 * @param ram the RAM regions, by GPA (where firmware and its metadata must land); empty where the memory map is not
 *        known
 */
public record PlatformSpec(Map<String, Object> options, int vcpus, String cpuModel, Path firmware, Path kernel,
                           Path initrd, String cmdline, long guestPhysicalEnd, List<RamRange> ram) {
    public PlatformSpec {
        options = Map.copyOf(options);
        ram = List.copyOf(ram);
        if (guestPhysicalEnd < 0) throw new IllegalArgumentException("guestPhysicalEnd " + guestPhysicalEnd + " is negative");
    }

    /** One RAM region: [gpa, gpa + size). */
    public record RamRange(long gpa, long size) {
        public long end() { return gpa + size; }
    }

    /** A spec with the end of its memory map but not its RAM regions. */
    public PlatformSpec(Map<String, Object> options, int vcpus, String cpuModel, Path firmware, Path kernel, Path initrd,
                        String cmdline, long guestPhysicalEnd) {
        this(options, vcpus, cpuModel, firmware, kernel, initrd, cmdline, guestPhysicalEnd, List.of());
    }

    /** Whether RAM covers all of [gpa, end) (adjacent regions together); false where RAM is not known. */
    public boolean ramCovers(long gpa, long end) {
        long at = gpa;
        boolean progress = true;
        while (at < end && progress) {
            progress = false;
            for (RamRange r : ram) {
                if (r.gpa() <= at && at < r.end()) {
                    at = r.end();
                    progress = true;
                }
            }
        }
        return at >= end;
    }

    /** A spec without its memory map ({@link #guestPhysicalEnd()} 0). */
    public PlatformSpec(Map<String, Object> options, int vcpus, String cpuModel, Path firmware, Path kernel, Path initrd,
                        String cmdline) {
        this(options, vcpus, cpuModel, firmware, kernel, initrd, cmdline, 0, List.of());
    }

    /** The option {@code name}, if present. */
    public Optional<Object> option(String name) { return Optional.ofNullable(options.get(name)); }
}
