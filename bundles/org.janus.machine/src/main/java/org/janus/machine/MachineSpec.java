package org.janus.machine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.janus.machine.internal.SpecReader;

/**
 * What a VM is made of, as a JSON document:
 *
 * <pre>{@code
 * { "name": "demo",
 *   "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
 *   "platform": { "id": "sw-protected", "initialState": "private" },
 *   "memory": { "backend": "auto", "ram": [ { "name": "low", "gpa": 0, "size": "1G" } ],
 *               "mmio": [ { "name": "ioapic", "gpa": "0xfec00000", "size": "4K" } ] },
 *   "vcpus": { "count": 2, "model": "EPYC-Milan" },
 *   "images": { "firmware": "OVMF.fd", "kernel": null, "initrd": null, "cmdline": null },
 *   "guest": { "program": "conversion-storm", "options": { "seed": 7 } } }
 * }</pre>
 *
 * <p>A Linux guest is booted directly (no firmware) from a {@code boot} section instead of a guest program:
 * {@code "boot": { "kernel": "vmlinuz", "initrd": "initramfs.cpio.gz", "cmdline": "console=ttyS0", "console": "stdio" }}
 * ({@link BootSection}).
 *
 * Sizes and addresses are numbers or strings: decimal, {@code 0x} hex, or with a binary suffix ({@code 64M},
 * {@code 1G}, {@code 4KiB}). Every field but {@code platform.id} and {@code memory.ram} is optional. Every member
 * of {@code platform} other than {@code id} is an option of that platform. Image paths are relative to the spec's
 * directory. Reading checks the form (unknown fields, types, sizes); whether the host can run it is checked by
 * {@link VmManager#create}.
 *
 * @param name the VM's name, for logs and reports ({@code "vm"} when absent)
 * @param kvm which KVM provider runs it
 * @param platform the confidential platform and its options
 * @param memory RAM regions, MMIO holes and the memory backend
 * @param vcpus how many vCPUs, of which model
 * @param images firmware, kernel, initrd and command line
 * @param guest the guest program the software KVM runs on each vCPU, or null
 * @param boot the Linux kernel Janus boots itself, or null
 */
public record MachineSpec(String name, KvmSection kvm, PlatformSection platform, MemorySection memory,
                          VcpuSection vcpus, ImageSection images, GuestSection guest, BootSection boot) {
    /** The value of {@code kvm.provider} and {@code memory.backend} that lets Janus choose. */
    public static final String AUTO = "auto";

    /**
     * @param provider {@code auto} (the real kernel when it can run the platform and no guest program is named,
     *        else the software KVM), {@code linux} or {@code sim}
     * @param profile the software KVM's kernel profile ({@code 6.12}, {@code 7.3}, {@code inplace},
     *        {@code inplace-off}, {@code 7.4}, {@code 7.4-inplace}, {@code 7.4-novmattr}), or null for the configured one
     * @param hardware the software KVM's hardware ({@code x86}, {@code amd-snp}, ...), or null for the configured one
     */
    public record KvmSection(String provider, String profile, String hardware) {
        public static final KvmSection DEFAULT = new KvmSection(AUTO, null, null);
    }

    /** @param id the {@code janus.platform} of a registered platform; @param options every other member */
    public record PlatformSection(String id, Map<String, Object> options) {
        public PlatformSection {
            options = immutable(options);
        }
    }

    /**
     * @param backend {@code auto}, {@code guest-memfd} or {@code legacy}
     * @param hugePages the page size backing the shared face of every RAM region ({@code "hugePages": "2M"} or
     *        {@code "1G"}: a hugetlb memfd, with pages from the host's pool), or 0 for the host's base pages; the
     *        legacy backend only (a hugetlb-backed guest_memfd is in no kernel Janus supports)
     */
    public record MemorySection(String backend, List<Region> ram, List<Region> mmio, long hugePages) {
        public MemorySection {
            ram = List.copyOf(ram);
            mmio = List.copyOf(mmio);
        }

        /** On the host's base pages. */
        public MemorySection(String backend, List<Region> ram, List<Region> mmio) { this(backend, ram, mmio, 0); }
    }

    /** A RAM region or an MMIO hole: [gpa, gpa + size). */
    public record Region(String name, long gpa, long size) {
        public long end() { return gpa + size; }
    }

    /** @param model the vCPU model as QEMU names it (e.g. {@code EPYC-Milan}), or null */
    public record VcpuSection(int count, String model) {
        public static final VcpuSection DEFAULT = new VcpuSection(1, null);
    }

    /** Absolute paths (resolved against the spec's directory), each null when absent. */
    public record ImageSection(Path firmware, Path kernel, Path initrd, String cmdline) {
        public static final ImageSection NONE = new ImageSection(null, null, null, null);
    }

    /**
     * An x86-64 Linux kernel (bzImage) that Janus loads itself with the Linux boot protocol and enters at its 64-bit
     * entry point, with no firmware; the machine adds the devices Linux needs for a serial console (in-kernel PIC,
     * IOAPIC and PIT, a 16550 UART on COM1, the i8042 reset line and a power-off port at 0xf4). Unlike
     * {@link ImageSection}, whose images a platform's firmware loads (and measures), nothing here is measured.
     * Bare file names are looked up beside the spec, then in the distribution's {@code guest-images/}.
     *
     * @param kernel the bzImage
     * @param initrd the initramfs, or null
     * @param cmdline the kernel command line ({@code ""} when absent)
     * @param console {@code stdio}: the UART's output goes to the terminal as it comes and stdin is its input;
     *        {@code log}: its output goes to the log (and the run's summary) only
     */
    public record BootSection(Path kernel, Path initrd, String cmdline, String console) {
        public static final String STDIO = "stdio";
        public static final String LOG = "log";
    }

    /** @param program the {@code janus.guest} name of a registered {@link GuestProgramFactory} */
    public record GuestSection(String program, Map<String, Object> options) {
        public GuestSection {
            options = immutable(options);
        }
    }

    /**
     * Reads a spec from JSON.
     *
     * @param baseDirectory what relative image paths are relative to
     * @throws SpecException naming every problem of form with its JSON path
     */
    public static MachineSpec parse(String json, Path baseDirectory) throws SpecException {
        SpecReader.Result r = SpecReader.read(json, baseDirectory);
        if (!r.problems().isEmpty()) throw new SpecException(r.problems());
        return r.spec();
    }

    /**
     * Reads a spec file; relative image paths are relative to its directory.
     *
     * @throws SpecException naming every problem of form, or that the file cannot be read
     */
    public static MachineSpec read(Path file) throws SpecException {
        String json;
        try {
            json = org.janus.machine.internal.SpecReader.readFile(file);
        } catch (IOException e) {
            throw new SpecException(List.of(new SpecProblem("$", "cannot read " + file + ": " + e)));
        }
        return parse(json, file.toAbsolutePath().getParent());
    }

    private static Map<String, Object> immutable(Map<String, Object> options) {
        return options == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(options));
    }
}
