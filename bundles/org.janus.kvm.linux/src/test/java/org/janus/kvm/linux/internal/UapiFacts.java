package org.janus.kvm.linux.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;

/**
 * Every number the Java side defines that the kernel's uAPI headers also define, each paired with the C expression
 * that yields it: ioctl numbers ({@link Ioctls}), struct sizes, member offsets and member sizes ({@link Structs}),
 * and the constants of the org.janus.kvm.api package (found by scanning the package, so a new constant cannot
 * escape the check unnoticed).
 */
final class UapiFacts {

    /**
     * One number to compare.
     *
     * @param name how mismatches are reported
     * @param cExpression a C expression that evaluates to the kernel's value
     * @param guard a macro that must be defined for the expression to compile, or null
     * @param javaValue the Java side's value, or null when Java has none (the header's value is only reported)
     * @param mayBeAbsent whether headers may lack it (the in-place conversion series is not in every kernel)
     */
    record Fact(String name, String cExpression, String guard, Long javaValue, boolean mayBeAbsent) {}

    /** The facts, and the API constants deliberately not compared (with why). */
    record Catalogue(List<Fact> facts, Map<String, String> notCompared, List<String> unmapped) {}

    /** Macros of the in-place conversion series, absent from kernels without it. */
    private static final String ATTRIBUTES2 = "KVM_SET_MEMORY_ATTRIBUTES2";

    private UapiFacts() {}

    /** The ioctl numbers of {@link Ioctls}, by macro name. */
    static Map<String, Long> ioctls() throws IllegalAccessException {
        Map<String, Long> m = new TreeMap<>();
        for (Field f : Ioctls.class.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (Modifier.isStatic(mod) && Modifier.isFinal(mod) && !Modifier.isPrivate(mod) && f.getType() == long.class
                    && f.getName().startsWith("KVM_"))
                m.put(f.getName(), f.getLong(null));
        }
        return m;
    }

    static Catalogue catalogue() throws ReflectiveOperationException {
        List<Fact> facts = new ArrayList<>();
        Map<String, String> notCompared = new TreeMap<>();
        List<String> unmapped = new ArrayList<>();

        for (Map.Entry<String, Long> e : ioctls().entrySet())
            facts.add(new Fact(e.getKey(), e.getKey(), e.getKey(), e.getValue(), e.getKey().equals(ATTRIBUTES2)));
        facts.add(new Fact("KVMIO", "KVMIO", "KVMIO", (long) Ioctls.KVMIO, false));

        for (CStruct s : Structs.ALL) {
            String type = "struct " + s.name();
            boolean optional = s.guard() != null;
            facts.add(new Fact("sizeof(" + type + ")", "sizeof(" + type + ")", s.guard(), (long) s.size(), optional));
            for (CField f : s.fields()) {
                facts.add(new Fact("offsetof(" + type + ", " + f.member() + ")",
                        "offsetof(" + type + ", " + f.member() + ")", s.guard(), (long) f.offset(), optional));
                facts.add(new Fact("sizeof(" + s.name() + "." + f.member() + ")",
                        "sizeof(((" + type + " *)0)->" + f.member() + ")", s.guard(), (long) f.size(), optional));
            }
        }
        facts.add(new Fact("offsetof(struct kvm_cpuid2, entries)", "offsetof(struct kvm_cpuid2, entries)", null,
                (long) Structs.KvmCpuid2.ENTRIES, false));

        for (KvmCap cap : KvmCap.values()) {
            String macro = "KVM_CAP_" + cap.name();
            boolean unfixed = cap.number() < 0;
            facts.add(new Fact("KvmCap." + cap.name(), macro, macro, unfixed ? null : (long) cap.number(), unfixed));
        }

        for (Class<?> c : apiClasses()) {
            for (Field f : c.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (!Modifier.isPublic(mod) || !Modifier.isStatic(mod) || !Modifier.isFinal(mod)) continue;
                if (f.getType() != int.class && f.getType() != long.class) continue;
                String name = c.getSimpleName() + "." + f.getName();
                long value = f.getType() == int.class ? f.getInt(null) : f.getLong(null);
                // SMCCC function ids are unsigned 32-bit (0x84000008): the C macro has the bits, the Java int the sign.
                if (c.getSimpleName().equals("ArmSmccc") && f.getType() == int.class) value = Integer.toUnsignedLong(f.getInt(null));
                String why = notUapi(c.getSimpleName(), f.getName());
                if (why != null) {
                    notCompared.put(name, why);
                    continue;
                }
                Fact fact = apiFact(c.getSimpleName(), f.getName(), name, value);
                if (fact == null) unmapped.add(name);
                else facts.add(fact);
            }
        }
        return new Catalogue(Collections.unmodifiableList(facts), notCompared, unmapped);
    }

    /** Why an API constant has no counterpart in the headers, or null if it has one. */
    private static String notUapi(String cls, String field) {
        return switch (cls) {
            case "Errno" -> "errno values come from the C library's headers, not the KVM uAPI";
            case "KvmException" -> "Janus's marker for 'not reported'";
            case "ArmSmccc" -> field.startsWith("PSCI_") ? null
                    : field.equals("PKVM_EXIT_HYPERCALL_MASK") ? "Janus's mask of the share/unshare function numbers for KVM_CAP_EXIT_HYPERCALL"
                    : "SMCCC return values and KVM's vendor hypercall ids live in the kernel's include/linux/arm-smccc.h and "
                            + "Documentation/virt/kvm/arm/hypercalls.rst, not in the uAPI headers";
            case "Hypercalls" -> switch (field) {
                case "MAP_GPA_RANGE_PAGE_SZ_MASK" -> "Janus's mask of the page-size bits (3:0) hypercalls.rst describes";
                case "MAP_GPA_RANGE_RESERVED_MASK" -> "Janus's mask of the reserved bits (63:5) hypercalls.rst describes";
                default -> null;
            };
            default -> null;
        };
    }

    private static Fact apiFact(String cls, String field, String name, long value) {
        String macro = switch (cls) {
            case "Kvm" -> field.equals("API_VERSION") ? "KVM_API_VERSION" : null;
            case "VmType" -> switch (field) {
                case "DEFAULT" -> "KVM_X86_DEFAULT_VM";
                case "X86_SW_PROTECTED" -> "KVM_X86_SW_PROTECTED_VM";
                case "X86_SEV" -> "KVM_X86_SEV_VM";
                case "X86_SEV_ES" -> "KVM_X86_SEV_ES_VM";
                case "X86_SNP" -> "KVM_X86_SNP_VM";
                case "X86_TDX" -> "KVM_X86_TDX_VM";
                case "ARM_PROTECTED" -> "KVM_VM_TYPE_ARM_PROTECTED";
                case "ARM_IPA_SIZE_MASK" -> "KVM_VM_TYPE_ARM_IPA_SIZE_MASK";
                default -> null;
            };
            case "ArmSmccc" -> switch (field) {
                case "PSCI_CPU_OFF" -> "PSCI_0_2_FN_CPU_OFF";
                case "PSCI_AFFINITY_INFO" -> "PSCI_0_2_FN_AFFINITY_INFO";
                case "PSCI_AFFINITY_INFO_64" -> "PSCI_0_2_FN64_AFFINITY_INFO";
                case "PSCI_SYSTEM_OFF" -> "PSCI_0_2_FN_SYSTEM_OFF";
                case "PSCI_RET_SUCCESS", "PSCI_RET_NOT_SUPPORTED", "PSCI_RET_INVALID_PARAMS" -> field;
                case "PSCI_AFFINITY_ON" -> "PSCI_0_2_AFFINITY_LEVEL_ON";
                case "PSCI_AFFINITY_OFF" -> "PSCI_0_2_AFFINITY_LEVEL_OFF";
                default -> null;
            };
            case "GuestMemfdFlags" -> "GUEST_MEMFD_FLAG_" + field;
            case "MemslotFlags" -> "KVM_MEM_" + field;
            case "MemoryAttribute" -> "KVM_MEMORY_ATTRIBUTE_" + field;
            case "ExitReason" -> field.startsWith("SYSTEM_EVENT_") ? "KVM_" + field
                    : field.equals("INTERNAL_ERROR_EMULATION") || field.equals("MEMORY_EXIT_FLAG_PRIVATE") ? "KVM_" + field
                    : "KVM_EXIT_" + field;
            case "Hypercalls" -> field.startsWith("KVM_") ? field : "KVM_" + field;
            case "DeviceAttr" -> "KVM_" + field;
            case "KvmVm" -> field.equals("PIT_SPEAKER_DUMMY") ? "KVM_PIT_SPEAKER_DUMMY" : null;
            case "CpuidEntry" -> field.equals("FLAG_SIGNIFCANT_INDEX") ? "KVM_CPUID_FLAG_SIGNIFCANT_INDEX" : null;
            case "FallocateMode" -> "FALLOC_FL_" + field;
            case "MemfdFlags" -> "MFD_" + field;
            case "SevCommand" -> null; // enum sev_cmd_id members: no macro to guard on
            case "TdxCommand" -> field.equals("MEASURE_MEMORY_REGION") ? "KVM_TDX_MEASURE_MEMORY_REGION" : null;
            case "MemoryAttributes2" -> null;
            default -> null;
        };
        if (macro != null) return new Fact(name, macro, macro, value, false);
        if (cls.equals("SevCommand")) return new Fact(name, "KVM_SEV_" + field, null, value, false);
        // enum kvm_tdx_cmd_id members, like sev_cmd_id: no macro to guard on.
        if (cls.equals("TdxCommand")) return new Fact(name, "KVM_TDX_" + field, null, value, false);
        if (cls.equals("MemoryAttributes2") && field.equals("RESERVED_WORDS"))
            return new Fact(name, "sizeof(((struct kvm_memory_attributes2 *)0)->reserved) / sizeof(__u64)", ATTRIBUTES2,
                    value, true);
        return null;
    }

    /** Every class of the org.janus.kvm.api package, read from wherever the package was loaded. */
    static List<Class<?>> apiClasses() {
        String pkg = Kvm.class.getPackageName();
        String dir = pkg.replace('.', '/') + "/";
        List<String> names = new ArrayList<>();
        try {
            Path location = Path.of(Kvm.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(location)) {
                try (Stream<Path> files = Files.list(location.resolve(dir))) {
                    files.map(p -> p.getFileName().toString()).forEach(names::add);
                }
            } else {
                try (JarFile jar = new JarFile(location.toFile())) {
                    jar.stream().map(e -> e.getName()).filter(n -> n.startsWith(dir) && n.indexOf('/', dir.length()) < 0)
                            .map(n -> n.substring(dir.length())).forEach(names::add);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        List<Class<?>> classes = new ArrayList<>();
        for (String n : names) {
            if (!n.endsWith(".class") || n.equals("package-info.class")) continue;
            try {
                classes.add(Class.forName(pkg + "." + n.substring(0, n.length() - ".class".length())));
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
        }
        classes.sort((a, b) -> a.getName().compareTo(b.getName()));
        return classes;
    }
}
