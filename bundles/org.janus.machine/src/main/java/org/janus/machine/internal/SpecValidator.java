package org.janus.machine.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramContext.AccessModel;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.MachineSpec;
import org.janus.machine.MachineSpec.Region;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.machine.internal.x86boot.LinuxImages;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.PlatformSpec;

/**
 * Checks a machine spec against this host and the registered services before anything of the VM is created,
 * and names every problem with its JSON path. Only a probe VM of the platform's type is created (and closed) to
 * ask the memory backends whether they can serve it, as the host report does. What it decides on the way (KVM,
 * backend) becomes the {@link Plan} the assembler follows.
 */
public final class SpecValidator {
    /** KVM_MEM_SLOTS_NUM: slot ids are 16 bits, of which KVM accepts at most 32767 per address space. */
    static final int MAX_MEMSLOTS = 32767;
    /** The order {@code auto} tries backends in: in place first. */
    static final List<String> BACKEND_PREFERENCE = List.of(MemoryBackend.GUEST_MEMFD, MemoryBackend.LEGACY);

    /** What validation decided, for the assembler. */
    public record Plan(MachineSpec spec, KvmChooser.Choice kvm, ConfidentialPlatform platform, PlatformSpec platformSpec,
                       String backend, String backendReason, GuestProgramFactory guest, PageState initialState,
                       AccessModel access, LinuxImages linux) {}

    private final ServiceDirectory services;

    /** The backend {@code auto} tries first (configured); {@code auto}: in place first, as {@link #BACKEND_PREFERENCE}. */
    private volatile String preferredBackend = MachineSpec.AUTO;

    public SpecValidator(ServiceDirectory services) { this.services = services; }

    /** Which backend a spec's {@code auto} tries first; {@code auto} restores the built-in order. */
    public void preferBackend(String id) { preferredBackend = id == null || id.isBlank() ? MachineSpec.AUTO : id; }

    /** Validates a spec read without problems of form. */
    public Plan validate(MachineSpec spec) throws SpecException {
        return validate(new SpecReader.Result(spec, List.of()));
    }

    /**
     * Validates what the reader made of a spec, adding every problem of substance to those of form.
     *
     * @throws SpecException naming all of them
     */
    public Plan validate(SpecReader.Result read) throws SpecException {
        List<SpecProblem> problems = new ArrayList<>(read.problems());
        MachineSpec spec = read.spec();
        if (spec == null) throw new SpecException(problems);

        ConfidentialPlatform platform = platform(spec, problems);
        GuestProgramFactory guest = null;
        if (spec.guest() != null) {
            guest = services.guest(spec.guest().program()).orElse(null);
            if (guest == null) problems.add(new SpecProblem("$.guest.program", "no guest program '" + spec.guest().program()
                    + "' is registered; registered: " + listOrNone(services.guestNames())));
        }
        KvmChooser.Choice kvm = spec.kvm() == null ? null
                : KvmChooser.choose(spec.kvm(), platform, spec.guest() != null, services, problems);
        long page = kvm != null ? kvm.kvm().pageSize() : 4096;
        // A boot section whose images could not be read is still a Linux boot: the host's lack comes first.
        boolean boots = spec.boot() != null || hasProblemAt(read.problems(), "$.boot");
        if (boots && kvm != null && !kvm.kvm().provider().equals("linux")) {
            // Everything else about the spec is moot here: one line saying what the host lacks.
            throw new SpecException(List.of(new SpecProblem("$.boot", "booting a Linux kernel needs real KVM (/dev/kvm, kvm.provider "
                    + "linux); this run would get " + kvm.reason())));
        }
        if (boots && kvm == null && spec.kvm() != null && hasProblemAt(problems, "$.kvm.provider")
                && services.kvm("linux").isEmpty()) {
            throw new SpecException(List.of(new SpecProblem("$.boot", "booting a Linux kernel needs real KVM (/dev/kvm, kvm.provider "
                    + "linux); no linux provider is registered here (it registers only where /dev/kvm opens)")));
        }

        if (spec.memory() != null && read.partial().isEmpty()) layout(spec.memory(), page, problems);
        if (spec.memory() != null && spec.memory().hugePages() != 0) hugePages(spec.memory(), problems);
        if (spec.boot() != null) boot(spec, problems);
        if (spec.vcpus() != null && spec.vcpus().count() < 1)
            problems.add(new SpecProblem("$.vcpus.count", spec.vcpus().count() + ": a VM needs at least one vCPU"));
        if (spec.images() != null) images(spec.images(), problems);

        PlatformSpec platformSpec = platformSpec(spec);
        String backend = null;
        String backendReason = null;
        PageState initial = null;
        AccessModel access = null;
        if (kvm != null) {
            boolean sim = kvm.kvm().provider().equals("sim");
            if (spec.guest() != null && !sim)
                problems.add(new SpecProblem("$.guest.program", "guest programs run only on the software KVM (kvm.provider sim); "
                        + "the " + kvm.kvm().provider() + " provider runs the guest's machine code"));
            if (spec.guest() == null && sim && !hasProblemAt(problems, "$.guest"))
                problems.add(new SpecProblem("$.guest", "missing: the software KVM runs guest programs, not machine code; name one "
                        + "in guest.program (registered: " + listOrNone(services.guestNames()) + ")"));
            if (spec.memory() != null) {
                // The limit this KVM reports, not the uAPI's ceiling: x86 offers 32764 of the 32767 slot ids.
                int slots = kvm.kvm().checkExtension(KvmCap.NR_MEMSLOTS);
                if (slots > 0 && spec.memory().ram().size() > slots)
                    problems.add(new SpecProblem("$.memory.ram", spec.memory().ram().size() + " RAM regions, one memslot each, but this KVM "
                            + "offers " + slots + " (KVM_CAP_NR_MEMSLOTS)"));
            }
            if (spec.vcpus() != null) {
                int max = kvm.kvm().checkExtension(KvmCap.MAX_VCPUS);
                if (max > 0 && spec.vcpus().count() > max)
                    problems.add(new SpecProblem("$.vcpus.count", spec.vcpus().count() + " vCPUs, but this KVM allows at most " + max
                            + " (KVM_CAP_MAX_VCPUS)"));
            }
        }
        if (kvm != null && platform != null && spec.platform() != null) {
            ConfidentialPlatform.Support support = platform.support(kvm.kvm());
            if (!support.supported()) {
                problems.add(new SpecProblem("$.platform.id", "this host cannot run " + platform.id() + " VMs: " + support.reason()
                        + " (KVM: " + kvm.reason() + ")"));
            } else {
                if (platformSpec != null) {
                    platformProblems(platform.validate(platformSpec, kvm.kvm()), problems);
                    initial = platform.initialRamState(platformSpec);
                }
                long type = platformSpec != null ? platform.vmType(kvm.kvm(), platformSpec) : platform.vmType(kvm.kvm());
                access = accessModel(type);
                if (spec.memory() != null) {
                    BackendChoice chosen = backend(spec, kvm, platform, type, problems);
                    if (chosen != null) {
                        backend = chosen.id();
                        backendReason = chosen.reason();
                        if (spec.memory().hugePages() != 0 && !MemoryBackend.LEGACY.equals(backend))
                            problems.add(new SpecProblem("$.memory.hugePages", "huge pages back the legacy backend's shared face, and this "
                                    + "VM gets the " + backend + " backend (" + backendReason + "); a hugetlb-backed guest_memfd is a kernel "
                                    + "series in no kernel Janus supports: use \"backend\": \"legacy\" on a kernel with VM-wide attributes"));
                    }
                }
            }
        }
        if (spec.boot() != null && access == AccessModel.GUEST_CHOSEN)
            problems.add(new SpecProblem("$.platform.id", "Janus boots Linux directly only in plain and software-protected VMs; "
                    + platform.id() + " guests boot through their firmware (images)"));
        else if (spec.boot() != null && initial != null && initial != PageState.SHARED)
            problems.add(new SpecProblem("$.platform.initialState", "a direct Linux boot needs shared RAM (\"shared\"): Janus writes the "
                    + "kernel through the host's mapping and the guest never converts"));
        // The guest's context needs a sound layout; with problems there, its options wait for the next run.
        if (guest != null && spec.guest() != null && spec.memory() != null && spec.vcpus() != null && access != null
                && backend != null && !hasProblemAt(problems, "$.memory") && !hasProblemAt(problems, "$.vcpus")) {
            GuestProgramContext context = guestContext(spec, 0, access, ConversionContents.of(
                    MemoryBackend.GUEST_MEMFD.equals(backend), platform.keepsPlaintextAcrossConversion()));
            for (SpecProblem p : guest.validate(context)) {
                String path = p.path() == null || p.path().isEmpty() ? "$.guest.options" : "$.guest.options." + p.path();
                problems.add(new SpecProblem(path, p.message()));
            }
        }
        LinuxImages linux = null;
        if (spec.boot() != null && problems.isEmpty()) {
            try {
                MachineSpec.BootSection b = spec.boot();
                linux = LinuxImages.read(b.kernel(), MAX_KERNEL_BYTES, b.initrd(), MAX_INITRD_BYTES, b.cmdline());
            } catch (LinuxImages.Problem p) {
                problems.add(new SpecProblem("$.boot." + p.member().name().toLowerCase(java.util.Locale.ROOT), p.getMessage()));
            }
        }
        if (!problems.isEmpty()) throw new SpecException(problems);
        return new Plan(spec, kvm, platform, platformSpec, backend, backendReason, guest, initial, access, linux);
    }

    /** What a launch measurement is computed from: the platform and its part of the spec. */
    public record Measurable(MachineSpec spec, ConfidentialPlatform platform, PlatformSpec platformSpec) {}

    /** The registered platform the spec names, or null (with a problem when it names one that is not there). */
    private ConfidentialPlatform platform(MachineSpec spec, List<SpecProblem> problems) {
        if (spec.platform() == null) return null;
        ConfidentialPlatform platform = services.platform(spec.platform().id()).orElse(null);
        if (platform == null) problems.add(new SpecProblem("$.platform.id", "no platform '" + spec.platform().id()
                + "' is registered; registered: " + listOrNone(services.platformIds())));
        return platform;
    }

    /**
     * Checks what the launch measurement of a spec depends on, without asking the host anything: the form, the
     * layout, the vCPUs, the images and the platform's own options (e.g. the SEV-SNP policy and firmware). Which KVM,
     * backend or guest program would run it is not checked: a spec can be measured on a host that cannot run it.
     *
     * @throws SpecException naming every problem found
     */
    public Measurable validateForMeasurement(SpecReader.Result read) throws SpecException {
        List<SpecProblem> problems = new ArrayList<>(read.problems());
        MachineSpec spec = read.spec();
        if (spec == null) throw new SpecException(problems);
        ConfidentialPlatform platform = platform(spec, problems);
        if (spec.memory() != null && read.partial().isEmpty()) layout(spec.memory(), 4096, problems);
        if (spec.vcpus() != null && spec.vcpus().count() < 1)
            problems.add(new SpecProblem("$.vcpus.count", spec.vcpus().count() + ": a VM needs at least one vCPU"));
        if (spec.images() != null) images(spec.images(), problems);
        PlatformSpec platformSpec = platformSpec(spec);
        if (platform != null && platformSpec != null) {
            platformProblems(platform.validate(platformSpec), problems);
        }
        if (!problems.isEmpty()) throw new SpecException(problems);
        return new Measurable(spec, platform, platformSpec);
    }

    /**
     * The platform's problems with its part of the spec; an image the machine already found missing or unreadable is
     * not named a second time.
     */
    private static void platformProblems(List<ConfidentialPlatform.Problem> found, List<SpecProblem> problems) {
        for (ConfidentialPlatform.Problem p : found) {
            boolean imageKnownBad = p.path().startsWith("$.images.") && problems.stream().anyMatch(q -> q.path().equals(p.path()));
            if (!imageKnownBad) problems.add(new SpecProblem(p.path(), p.message()));
        }
    }

    /**
     * Huge pages for the shared faces: every RAM region a whole number of them, and the host's pool holding as many
     * free, unreserved pages as the regions need (a VM that would find the pool short at its mmap is refused here,
     * with what to reserve; the backend still maps the kernel's ENOMEM to one line for a pool emptied in between).
     */
    private static void hugePages(MachineSpec.MemorySection memory, List<SpecProblem> problems) {
        long page = memory.hugePages();
        String size = page == 1L << 30 ? "1 GiB" : "2 MiB";
        long needed = 0;
        for (int i = 0; i < memory.ram().size(); i++) {
            Region r = memory.ram().get(i);
            if (r.gpa() % page != 0 || r.size() % page != 0)
                problems.add(new SpecProblem("$.memory.ram[" + i + "]", describe(r) + " is not made of whole " + size + " pages: with "
                        + "hugePages its gpa and size must be multiples of " + Sizes.hex(page)));
            else needed += r.size() / page;
        }
        if (needed == 0) return;
        java.util.Optional<HugePagePool> pool = HugePagePool.read(page);
        if (pool.isEmpty())
            problems.add(new SpecProblem("$.memory.hugePages", "this host has no " + size + " huge pages (" + HugePagePool.directory(page)
                    + " is missing)"));
        else if (pool.get().available() < needed)
            problems.add(new SpecProblem("$.memory.hugePages", "the shared faces need " + needed + " free " + size + " huge pages and the "
                    + "host's pool has " + pool.get().available() + " (HugePages_Free " + pool.get().free() + ", of which reserved "
                    + pool.get().reserved() + "); reserve them first: " + pool.get().howToReserve(needed)));
    }

    private static boolean hasProblemAt(List<SpecProblem> problems, String prefix) {
        return problems.stream().anyMatch(p -> p.path().startsWith(prefix));
    }

    /** Sizes, alignment, names, overlaps and the memslot limit. */
    private static void layout(MachineSpec.MemorySection memory, long page, List<SpecProblem> problems) {
        record Area(String path, Region region) {}
        List<Area> areas = new ArrayList<>();
        Map<String, String> names = new HashMap<>();
        if (memory.ram().size() > MAX_MEMSLOTS)
            problems.add(new SpecProblem("$.memory.ram", memory.ram().size() + " RAM regions, one memslot each, but KVM has at most "
                    + MAX_MEMSLOTS + " memslots"));
        for (String kind : List.of("ram", "mmio")) {
            List<Region> list = kind.equals("ram") ? memory.ram() : memory.mmio();
            for (int i = 0; i < list.size(); i++) {
                Region r = list.get(i);
                String path = "$.memory." + kind + "[" + i + "]";
                String clash = names.putIfAbsent(r.name(), path);
                if (clash != null) problems.add(new SpecProblem(path + ".name", "'" + r.name() + "' is already the name of " + clash));
                boolean ok = true;
                if (r.size() == 0) {
                    problems.add(new SpecProblem(path + ".size", "is zero"));
                    ok = false;
                } else if (r.size() % page != 0) {
                    problems.add(new SpecProblem(path + ".size", Sizes.hex(r.size()) + " is not a multiple of the page size " + Sizes.hex(page)));
                    ok = false;
                }
                if (r.gpa() % page != 0) {
                    problems.add(new SpecProblem(path + ".gpa", Sizes.hex(r.gpa()) + " is not aligned to the page size " + Sizes.hex(page)));
                    ok = false;
                }
                if (r.gpa() + r.size() < r.gpa()) {
                    problems.add(new SpecProblem(path + ".size", "gpa " + Sizes.hex(r.gpa()) + " + size " + Sizes.hex(r.size())
                            + " overflows 64 bits"));
                    ok = false;
                }
                if (ok) areas.add(new Area(path, r));
            }
        }
        // A sweep by start address: each area that begins before the furthest end so far overlaps that area.
        areas.sort(Comparator.comparingLong((Area a) -> a.region().gpa()));
        Area furthest = null;
        for (Area a : areas) {
            if (furthest != null && a.region().gpa() < furthest.region().end()) {
                problems.add(new SpecProblem(a.path(), describe(a.region()) + " overlaps " + furthest.path() + " "
                        + describe(furthest.region())));
            }
            if (furthest == null || a.region().end() > furthest.region().end()) furthest = a;
        }
    }

    private static String describe(Region r) {
        return "'" + r.name() + "' [" + Sizes.hex(r.gpa()) + ", " + Sizes.hex(r.end()) + ")";
    }

    /** The largest kernel a boot section may name: Debian's are about 12 MiB; it is read whole into memory. */
    static final long MAX_KERNEL_BYTES = 128L << 20;
    /** The largest initrd: it is read whole into memory before it is written to guest RAM. */
    static final long MAX_INITRD_BYTES = 1L << 30;

    /**
     * What a direct Linux boot needs of the rest of the spec: no guest program and no firmware images beside it, one
     * vCPU (no ACPI or MP tables describe more), shared memory the host can write the kernel into, and images of a
     * size that can be read.
     */
    private static void boot(MachineSpec spec, List<SpecProblem> problems) {
        MachineSpec.BootSection boot = spec.boot();
        if (spec.guest() != null)
            problems.add(new SpecProblem("$.guest", "a spec boots either a guest program or a Linux kernel (boot), not both"));
        MachineSpec.ImageSection i = spec.images();
        if (i != null && (i.firmware() != null || i.kernel() != null || i.initrd() != null || i.cmdline() != null))
            problems.add(new SpecProblem("$.images", "images are loaded by a platform's firmware; a direct Linux boot (boot) takes none"));
        if (spec.vcpus() != null && spec.vcpus().count() != 1)
            problems.add(new SpecProblem("$.vcpus.count", spec.vcpus().count() + " vCPUs: a direct Linux boot has no ACPI or MP table to "
                    + "announce more than one, so it runs one"));
        if (spec.memory() != null) {
            List<Region> ram = spec.memory().ram();
            for (int r = 0; r < ram.size(); r++) {
                Region region = ram.get(r);
                boolean identity = region.gpa() < LinuxBootDevices.IDENTITY_MAP_ADDR + 4096 && region.end() > LinuxBootDevices.IDENTITY_MAP_ADDR;
                boolean tss = region.gpa() < LinuxBootDevices.TSS_END && region.end() > LinuxBootDevices.TSS_ADDR;
                if (identity || tss)
                    problems.add(new SpecProblem("$.memory.ram[" + r + "]", describe(region) + " covers " + (identity
                            ? "the identity-map page at " + Sizes.hex(LinuxBootDevices.IDENTITY_MAP_ADDR)
                            : "the TSS pages at " + Sizes.hex(LinuxBootDevices.TSS_ADDR)) + ", which KVM needs outside RAM for a Linux boot"));
            }
        }
        bootImage("kernel", boot.kernel(), MAX_KERNEL_BYTES, problems);
        bootImage("initrd", boot.initrd(), MAX_INITRD_BYTES, problems);
    }

    private static void bootImage(String member, Path file, long limit, List<SpecProblem> problems) {
        if (file == null) return;
        String path = "$.boot." + member;
        if (!Files.isRegularFile(file)) problems.add(new SpecProblem(path, file + " is not a file"));
        else if (!Files.isReadable(file)) problems.add(new SpecProblem(path, file + " is not readable"));
        else {
            try {
                long size = Files.size(file);
                if (size > limit) problems.add(new SpecProblem(path, file + " is " + Sizes.format(size) + ", more than the "
                        + Sizes.format(limit) + " a " + member + " may be"));
                else if (size == 0) problems.add(new SpecProblem(path, file + " is empty"));
            } catch (java.io.IOException e) {
                problems.add(new SpecProblem(path, file + ": its size cannot be read: " + e.getMessage()));
            }
        }
    }

    private static void images(MachineSpec.ImageSection images, List<SpecProblem> problems) {
        image("firmware", images.firmware(), problems);
        image("kernel", images.kernel(), problems);
        image("initrd", images.initrd(), problems);
    }

    /**
     * The largest firmware image a spec may name: real ones (OVMF, TDVF, AmdSev) are a few MiB, and a platform reads
     * the whole image into memory, so a larger file is refused before anything reads it.
     */
    static final long MAX_FIRMWARE_BYTES = 64L << 20;

    private static void image(String member, Path file, List<SpecProblem> problems) {
        if (file == null) return;
        if (!Files.exists(file)) problems.add(new SpecProblem("$.images." + member, file + " does not exist"));
        else if (!Files.isRegularFile(file)) problems.add(new SpecProblem("$.images." + member, file + " is not a file"));
        else if (!Files.isReadable(file)) problems.add(new SpecProblem("$.images." + member, file + " is not readable"));
        else if (member.equals("firmware")) {
            try {
                long size = Files.size(file);
                if (size > MAX_FIRMWARE_BYTES)
                    problems.add(new SpecProblem("$.images.firmware", file + " is " + Sizes.format(size) + ", more than the "
                            + Sizes.format(MAX_FIRMWARE_BYTES) + " a firmware image may be"));
            } catch (java.io.IOException e) {
                problems.add(new SpecProblem("$.images.firmware", file + ": its size cannot be read: " + e.getMessage()));
            }
        }
    }

    /**
     * The explicit backend if the VM can use it, or the first usable one for {@code auto}. Suitability is asked of
     * a probe VM of the platform's type, closed again at once.
     *
     * @return the backend and why, or null after adding a problem
     */
    private BackendChoice backend(MachineSpec spec, KvmChooser.Choice kvm, ConfidentialPlatform platform, long type,
                             List<SpecProblem> problems) {
        String wanted = spec.memory().backend();
        List<String> candidates = new ArrayList<>();
        String preferred = preferredBackend;
        if (!preferred.equals(MachineSpec.AUTO) && services.backend(preferred).isPresent()) candidates.add(preferred);
        for (String id : BACKEND_PREFERENCE) if (services.backend(id).isPresent() && !candidates.contains(id)) candidates.add(id);
        for (String id : services.backendIds()) if (!candidates.contains(id)) candidates.add(id);
        if (!wanted.equals(MachineSpec.AUTO) && services.backend(wanted).isEmpty()) {
            problems.add(new SpecProblem("$.memory.backend", "no memory backend '" + wanted + "' is registered; use auto or one of: "
                    + listOrNone(candidates)));
            return null;
        }
        Map<String, MemoryBackend.Suitability> verdicts = new HashMap<>();
        try (KvmVm probe = kvm.kvm().createVm(type)) {
            for (String id : candidates) verdicts.put(id, services.backend(id).orElseThrow().suitability(probe));
        } catch (KvmException e) {
            problems.add(new SpecProblem("$.platform.id", "a " + VmType.name(type) + " VM cannot be created here: " + e.getMessage()));
            return null;
        }
        String what = "this " + platform.id() + " VM (" + kvm.kvm().provider() + ")";
        if (!wanted.equals(MachineSpec.AUTO)) {
            MemoryBackend.Suitability s = verdicts.get(wanted);
            if (s.usable()) return new BackendChoice(wanted, s.reason());
            List<String> alternatives = candidates.stream().filter(id -> !id.equals(wanted) && verdicts.get(id).usable())
                    .map(id -> id + " would (" + verdicts.get(id).reason() + ")").toList();
            problems.add(new SpecProblem("$.memory.backend", "the " + wanted + " backend cannot serve " + what + ": " + s.reason()
                    + (alternatives.isEmpty() ? "; no registered backend can" : "; " + String.join("; ", alternatives))));
            return null;
        }
        for (String id : candidates) {
            if (verdicts.get(id).usable())
                return new BackendChoice(id, (id.equals(preferred) ? "auto, configured to prefer " + id + ": " : "auto: ") + verdicts.get(id).reason());
        }
        problems.add(new SpecProblem("$.memory.backend", "no registered backend can serve " + what + ": "
                + (candidates.isEmpty() ? "none is registered" : String.join("; ",
                        candidates.stream().map(id -> id + ": " + verdicts.get(id).reason()).toList()))));
        return null;
    }

    private record BackendChoice(String id, String reason) {}

    static PlatformSpec platformSpec(MachineSpec spec) {
        if (spec.platform() == null || spec.vcpus() == null || spec.images() == null) return null;
        MachineSpec.ImageSection i = spec.images();
        List<PlatformSpec.RamRange> ram = spec.memory() == null ? List.of()
                : spec.memory().ram().stream().map(r -> new PlatformSpec.RamRange(r.gpa(), r.size())).toList();
        return new PlatformSpec(spec.platform().options(), spec.vcpus().count(), spec.vcpus().model(), i.firmware(), i.kernel(),
                i.initrd(), i.cmdline(), guestPhysicalEnd(spec.memory()), ram);
    }

    /** The first address above every RAM region and MMIO hole, or 0 without a memory map (or with one that overflows). */
    static long guestPhysicalEnd(MachineSpec.MemorySection memory) {
        if (memory == null) return 0;
        long end = 0;
        for (List<Region> list : List.of(memory.ram(), memory.mmio())) {
            for (Region r : list) {
                long e = r.gpa() + r.size();
                if (r.gpa() < 0 || r.size() < 0 || e < r.gpa()) return 0;
                end = Math.max(end, e);
            }
        }
        return end;
    }

    /** How a VM of this type's guest accesses choose between the faces of its memory. */
    static AccessModel accessModel(long vmType) {
        if (vmType == VmType.X86_SNP || vmType == VmType.X86_TDX) return AccessModel.GUEST_CHOSEN;
        if (vmType == VmType.X86_SW_PROTECTED) return AccessModel.KVM_DERIVED;
        if ((vmType & VmType.ARM_PROTECTED) != 0) return AccessModel.KVM_DERIVED;
        return AccessModel.SHARED_ONLY;
    }

    static GuestProgramContext guestContext(MachineSpec spec, int vcpu, AccessModel access, ConversionContents contents) {
        List<RamRegion> ram = new ArrayList<>();
        List<Region> regions = spec.memory().ram();
        for (int i = 0; i < regions.size(); i++) ram.add(new RamRegion(regions.get(i).name(), i, regions.get(i).gpa(), regions.get(i).size()));
        ram.sort(Comparator.comparingLong(RamRegion::gpa));
        return new GuestProgramContext(spec.platform().id(), spec.guest().options(), ram, vcpu, spec.vcpus().count(), access,
                contents);
    }

    private static String listOrNone(List<String> names) {
        return names.isEmpty() ? "none" : String.join(", ", names);
    }
}
