package org.janus.platform.tck;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the kit needs to know about a platform to check it: where its bundle is, its id, the modelled hardware its
 * VMs need, a platform section it accepts and some it must refuse, and guests that run on it. Made with
 * {@link #builder(Path, String)}; every JSON fragment is checked by the machine exactly as in a user's spec.
 *
 * @param bundle the platform bundle: its jar, or the directory of its classes with META-INF/MANIFEST.MF
 * @param id its {@code janus.platform}
 * @param hardware the software KVM hardware its VMs run on ({@code x86}, {@code amd-snp}, {@code intel-tdx},
 *        {@code arm64-pkvm}, ...)
 * @param platformJson a {@code platform} section the platform accepts, e.g. {@code {"id":"sev-snp","policy":"0x30000"}}
 * @param imagesJson the {@code images} section ({@code {}} for none)
 * @param ramJson the {@code memory.ram} array
 * @param mmioJson the {@code memory.mmio} array
 * @param vcpus how many vCPUs
 * @param vcpuModel the vCPU model, or null
 * @param guest a guest program that ends by itself, normally, after converting memory (unless {@code converts} is
 *        false), and its options as a JSON object
 * @param longGuest a guest program that runs long enough to have its platform bundle updated under it (many
 *        exits), and its options
 * @param converts whether the platform's guests convert memory (false for a VM without private memory)
 * @param strategies the memory backends the platform serves: {@code guest-memfd} (checked on the software KVM's
 *        {@code inplace} profile) and/or {@code legacy} (on {@code 7.3})
 * @param refusals platform sections the platform must refuse, each with the JSON path of the problem
 * @param hardwareWithoutSupport software KVM hardware on which the platform must say it is not supported
 */
public record PlatformUnderTest(Path bundle, String id, String hardware, String platformJson, String imagesJson,
                                String ramJson, String mmioJson, int vcpus, String vcpuModel, Guest guest,
                                Guest longGuest, boolean converts, List<String> strategies, List<Refusal> refusals,
                                List<String> hardwareWithoutSupport) {
    public PlatformUnderTest {
        Objects.requireNonNull(bundle, "bundle");
        Objects.requireNonNull(id, "id");
        strategies = List.copyOf(strategies);
        refusals = List.copyOf(refusals);
        hardwareWithoutSupport = List.copyOf(hardwareWithoutSupport);
        if (strategies.isEmpty()) throw new IllegalArgumentException("a platform serves at least one memory strategy");
        for (String s : strategies) {
            if (!s.equals("guest-memfd") && !s.equals("legacy")) throw new IllegalArgumentException("unknown strategy " + s);
        }
    }

    /** A guest program and its options (a JSON object). */
    public record Guest(String program, String optionsJson) {}

    /** A platform section the platform must refuse, and the JSON path its problem is reported at. */
    public record Refusal(String platformJson, String path) {}

    /** The software KVM profile a strategy is checked on. */
    public static String profileOf(String strategy) { return strategy.equals("legacy") ? "7.3" : "inplace"; }

    /** A whole machine spec for this platform with {@code strategy}'s backend on its profile, running {@code g}. */
    public String spec(String name, String strategy, Guest g) {
        return """
                { "name": "%s",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "%s" },
                  "platform": %s,
                  "memory": { "backend": "%s", "ram": %s, "mmio": %s },
                  "vcpus": { "count": %d%s },
                  "images": %s,
                  "guest": { "program": "%s", "options": %s } }
                """.formatted(name, profileOf(strategy), hardware, platformJson, strategy, ramJson, mmioJson, vcpus,
                vcpuModel == null ? "" : ", \"model\": \"" + vcpuModel + "\"", imagesJson, g.program(), g.optionsJson());
    }

    /** The same spec with another platform section (for the refusals). */
    public String specWithPlatform(String platform, String strategy) {
        return new PlatformUnderTest(bundle, id, hardware, platform, imagesJson, ramJson, mmioJson, vcpus, vcpuModel, guest,
                longGuest, converts, strategies, refusals, hardwareWithoutSupport).spec("refused", strategy, guest);
    }

    /** What crosses into the framework: JDK values only (the kit's checks run there, with their own class loader). */
    Map<String, Object> asMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("hardware", hardware);
        m.put("converts", converts);
        m.put("strategies", strategies);
        m.put("hardwareWithoutSupport", hardwareWithoutSupport);
        Map<String, String> specs = new LinkedHashMap<>();
        for (String s : strategies) {
            specs.put("run/" + s, spec(id + "-" + s, s, guest));
            specs.put("long/" + s, spec(id + "-long-" + s, s, longGuest));
        }
        m.put("specs", specs);
        List<List<String>> refused = new ArrayList<>();
        for (Refusal r : refusals) refused.add(List.of(specWithPlatform(r.platformJson(), strategies.get(0)), r.path()));
        m.put("refusals", refused);
        return m;
    }

    public static Builder builder(Path bundle, String id) { return new Builder(bundle, id); }

    /** Defaults: hardware x86, one 64 MiB RAM region, an IOAPIC hole, 2 vCPUs, both strategies, no images. */
    public static final class Builder {
        private final Path bundle;
        private final String id;
        private String hardware = "x86";
        private String platformJson;
        private String imagesJson = "{}";
        private String ramJson = "[ { \"name\": \"low\", \"gpa\": 0, \"size\": \"64M\" } ]";
        private String mmioJson = "[ { \"name\": \"ioapic\", \"gpa\": \"0xfec00000\", \"size\": \"4K\" } ]";
        private int vcpus = 2;
        private String vcpuModel;
        private Guest guest = new Guest("conversion-storm", "{ \"iterations\": 32, \"sizes\": [ \"4K\", \"2M\" ] }");
        private Guest longGuest = new Guest("conversion-storm", "{ \"iterations\": 1000000, \"sizes\": [ \"4K\", \"2M\" ], \"pagesPerRange\": 4 }");
        private boolean converts = true;
        private List<String> strategies = List.of("guest-memfd", "legacy");
        private final List<Refusal> refusals = new ArrayList<>();
        private List<String> unsupported = List.of();

        Builder(Path bundle, String id) {
            this.bundle = bundle;
            this.id = id;
            this.platformJson = "{ \"id\": \"" + id + "\" }";
        }

        public Builder hardware(String h) { hardware = h; return this; }

        public Builder platform(String json) { platformJson = json; return this; }

        public Builder images(String json) { imagesJson = json; return this; }

        public Builder ram(String json) { ramJson = json; return this; }

        public Builder mmio(String json) { mmioJson = json; return this; }

        public Builder vcpus(int count, String model) { vcpus = count; vcpuModel = model; return this; }

        public Builder guest(String program, String optionsJson) { guest = new Guest(program, optionsJson); return this; }

        public Builder longGuest(String program, String optionsJson) { longGuest = new Guest(program, optionsJson); return this; }

        /** The platform's VMs have no private memory: its guests convert nothing. */
        public Builder withoutConversions() { converts = false; return this; }

        public Builder strategies(String... s) { strategies = List.of(s); return this; }

        public Builder refuses(String platformJson, String path) { refusals.add(new Refusal(platformJson, path)); return this; }

        public Builder unsupportedOn(String... hardwareIds) { unsupported = List.of(hardwareIds); return this; }

        public PlatformUnderTest build() {
            return new PlatformUnderTest(bundle, id, hardware, platformJson, imagesJson, ramJson, mmioJson, vcpus, vcpuModel,
                    guest, longGuest, converts, strategies, refusals, unsupported);
        }
    }
}
