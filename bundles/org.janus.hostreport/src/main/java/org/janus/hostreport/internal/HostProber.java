package org.janus.hostreport.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.janus.hostreport.HostReport;
import org.janus.hostreport.MemoryStrategy;
import org.janus.hostreport.PlatformStrategy;
import org.janus.hostreport.Platforms;
import org.janus.hostreport.VmTypeReport;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.VmType;

/**
 * Follows the probing recipe of the KVM reference (§10): the API version and VM types at /dev/kvm scope, then
 * everything else on the fd of a VM of each type, because the system-scope answer is the union over all types.
 */
final class HostProber {
    private static final long MMAP_AND_INIT_SHARED = GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED;

    HostReport probe(Kvm kvm) {
        int apiVersion = kvm.getApiVersion();
        Map<String, String> diagnostics = kvm.hostDiagnostics();
        if (apiVersion != Kvm.API_VERSION) {
            String reason = "KVM_GET_API_VERSION=" + apiVersion + ", not " + Kvm.API_VERSION + ": KVM unusable";
            List<PlatformStrategy> none = Platforms.ALL.stream()
                    .map(p -> new PlatformStrategy(p, Platforms.vmType(p), MemoryStrategy.UNAVAILABLE, reason))
                    .toList();
            return new HostReport(kvm.provider(), kvm.description(), apiVersion, 0, 0, List.of(), none, diagnostics,
                    "unknown: KVM unusable");
        }
        int vmTypesMask = kvm.checkExtension(KvmCap.VM_TYPES);
        int armIpaSize = kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE);

        List<VmTypeReport> vmTypes = new ArrayList<>();
        for (long type : candidateTypes(vmTypesMask, armIpaSize)) vmTypes.add(probeType(kvm, type));

        List<PlatformStrategy> platforms = Platforms.ALL.stream()
                .map(p -> decide(p, vmTypesMask, armIpaSize, vmTypes))
                .toList();
        return new HostReport(kvm.provider(), kvm.description(), apiVersion, vmTypesMask, armIpaSize, vmTypes,
                platforms, diagnostics, kernelBuild(vmTypes, diagnostics));
    }

    /** The host diagnostic of /sys/module/kvm/parameters/gmem_in_place_conversion (both providers), where it exists. */
    static final String MODE_PARAMETER = "kvm.parameter.gmem_in_place_conversion";
    /** The same switch in v7 of the series, with the opposite meaning (Y: VM-wide attributes). */
    static final String V7_MODE_PARAMETER = "kvm.parameter.vm_memory_attributes";

    /**
     * What the probes and the kvm module's parameter say about the kernel's memory-attribute interfaces. As applied
     * (reference §13) {@code gmem_in_place_conversion} exists only in kernels built with
     * CONFIG_KVM_VM_MEMORY_ATTRIBUTES, where it defaults to N; a kernel built without it is in-place only.
     */
    static String kernelBuild(List<VmTypeReport> vmTypes, Map<String, String> diagnostics) {
        boolean inPlace = vmTypes.stream().anyMatch(t -> (t.guestMemfdMemoryAttributes() & MemoryAttribute.PRIVATE) != 0);
        boolean legacy = vmTypes.stream().anyMatch(t -> (t.memoryAttributes() & MemoryAttribute.PRIVATE) != 0);
        String probed = inPlace ? "in-place mode" : legacy ? "legacy mode" : "no private memory attributes";
        String series = "in-place conversion series " + seriesVersion(diagnostics.get("kernel.release"));
        String parameter = diagnostics.get(MODE_PARAMETER);
        if (parameter != null) {
            boolean on = parameter.equals("Y") || parameter.equals("1");
            String mode = on ? "in-place mode (attributes in each guest_memfd)" : "legacy mode (VM-wide attributes)";
            return series + ", module parameter gmem_in_place_conversion=" + parameter + ": " + mode
                    + (on == inPlace && (inPlace || legacy) ? "" : "; the probes found " + probed);
        }
        String v7 = diagnostics.get(V7_MODE_PARAMETER);
        if (v7 != null) {
            boolean vmWide = v7.equals("Y") || v7.equals("1");
            return "in-place conversion series v7, module parameter vm_memory_attributes=" + v7 + ": "
                    + (vmWide ? "legacy mode (VM-wide attributes)" : "in-place mode (attributes in each guest_memfd)")
                    + (vmWide == legacy && (inPlace || legacy) ? "" : "; the probes found " + probed);
        }
        if (inPlace) {
            return series + ", built without CONFIG_KVM_VM_MEMORY_ATTRIBUTES (no module parameter "
                    + "gmem_in_place_conversion): in-place mode only, no VM-wide KVM_SET_MEMORY_ATTRIBUTES";
        }
        if (legacy) {
            return "no in-place conversion series (no per-guest_memfd attributes, no module parameter "
                    + "gmem_in_place_conversion): legacy mode (VM-wide attributes)";
        }
        return "no private memory attributes: no VM type reports PRIVATE in KVM_CAP_MEMORY_ATTRIBUTES or "
                + "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES";
    }

    private static final Pattern RELEASE = Pattern.compile("^(\\d+)\\.(\\d+)");

    /** "as applied (7.4)" for a release 7.4 or later, else the release, which then carries a posted version. */
    private static String seriesVersion(String release) {
        if (release == null) return "(kernel release unknown)";
        Matcher m = RELEASE.matcher(release);
        if (m.find()) {
            int major = Integer.parseInt(m.group(1));
            int minor = Integer.parseInt(m.group(2));
            if (major > 7 || major == 7 && minor >= 4) return "as applied (" + major + "." + minor + ")";
        }
        return "as posted, before it was applied (kernel " + release + ")";
    }

    /** The mask's types, or only the default type where the mask is 0; on arm64 also the protected type. */
    private static List<Long> candidateTypes(int vmTypesMask, int armIpaSize) {
        List<Long> types = new ArrayList<>();
        if (vmTypesMask == 0) {
            types.add(VmType.DEFAULT);
        } else {
            for (int bit = 0; bit < Integer.SIZE; bit++) {
                if ((vmTypesMask & (1 << bit)) != 0) types.add((long) bit);
            }
        }
        // arm64 has no KVM_CAP_VM_TYPES: a protected VM exists only if KVM_CREATE_VM accepts the flag.
        if (armIpaSize > 0) types.add(VmType.ARM_PROTECTED);
        return types;
    }

    static VmTypeReport probeType(Kvm kvm, long type) {
        try (KvmVm vm = kvm.createVm(type)) {
            return new VmTypeReport(type, VmType.name(type), null,
                    vm.checkExtension(KvmCap.GUEST_MEMFD),
                    unsigned(vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS)),
                    unsigned(vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES)),
                    unsigned(vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES)),
                    unsigned(vm.checkExtension(KvmCap.EXIT_HYPERCALL)));
        } catch (KvmException e) {
            return new VmTypeReport(type, VmType.name(type), e.getMessage(), 0, 0, 0, 0, 0);
        }
    }

    static PlatformStrategy decide(String platform, int vmTypesMask, int armIpaSize, List<VmTypeReport> vmTypes) {
        long type = Platforms.vmType(platform);
        Optional<VmTypeReport> probed = vmTypes.stream().filter(t -> t.type() == type).findFirst();
        if (probed.isEmpty()) {
            String reason = type == VmType.ARM_PROTECTED
                    ? "not an arm64 host: KVM_CAP_ARM_VM_IPA_SIZE=" + armIpaSize
                    : "KVM_CAP_VM_TYPES=" + hex(vmTypesMask) + " lacks type " + type;
            return unavailable(platform, type, reason);
        }
        VmTypeReport vm = probed.get();
        if (!vm.created()) return unavailable(platform, type, vm.createError());

        String gmemAttrs = "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=" + hex(vm.guestMemfdMemoryAttributes());
        String vmAttrs = "KVM_CAP_MEMORY_ATTRIBUTES=" + hex(vm.memoryAttributes());
        String flags = "KVM_CAP_GUEST_MEMFD_FLAGS=" + hex(vm.guestMemfdFlags());
        boolean gmemPrivate = (vm.guestMemfdMemoryAttributes() & MemoryAttribute.PRIVATE) != 0;
        boolean mmap = (vm.guestMemfdFlags() & GuestMemfdFlags.MMAP) != 0;
        boolean initShared = (vm.guestMemfdFlags() & GuestMemfdFlags.INIT_SHARED) != 0;

        if (gmemPrivate && mmap) {
            return new PlatformStrategy(platform, type, MemoryStrategy.IN_PLACE, gmemAttrs
                    + " has PRIVATE: attributes live in each guest_memfd; " + flags
                    + (initShared ? " (MMAP|INIT_SHARED)" : " (MMAP without INIT_SHARED: RAM starts private)"));
        }
        String inPlaceRefused = gmemPrivate ? gmemAttrs + " has PRIVATE but " + flags + " lacks MMAP; " : "";
        if ((vm.memoryAttributes() & MemoryAttribute.PRIVATE) != 0) {
            if (vm.guestMemfd() == 0) {
                return unavailable(platform, type, inPlaceRefused + vmAttrs + " has PRIVATE but KVM_CAP_GUEST_MEMFD=0");
            }
            return new PlatformStrategy(platform, type, MemoryStrategy.LEGACY, inPlaceRefused + vmAttrs
                    + " has PRIVATE" + (gmemPrivate ? "" : ", " + gmemAttrs) + ": attributes live in the VM");
        }
        if (Platforms.usesPrivateAttributes(platform)) {
            return unavailable(platform, type, inPlaceRefused + "no private memory: " + gmemAttrs + ", " + vmAttrs);
        }
        String noPrivate = "no private memory attributes (" + gmemAttrs + ", " + vmAttrs + "); ";
        if ((vm.guestMemfdFlags() & MMAP_AND_INIT_SHARED) == MMAP_AND_INIT_SHARED) {
            return new PlatformStrategy(platform, type, MemoryStrategy.SHARED_ONLY,
                    noPrivate + flags + " has MMAP|INIT_SHARED");
        }
        return new PlatformStrategy(platform, type, MemoryStrategy.PLAIN,
                noPrivate + flags + " lacks MMAP|INIT_SHARED");
    }

    private static PlatformStrategy unavailable(String platform, long type, String reason) {
        return new PlatformStrategy(platform, type, MemoryStrategy.UNAVAILABLE, reason);
    }

    private static long unsigned(int capabilityAnswer) {
        return Integer.toUnsignedLong(capabilityAnswer);
    }

    static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
