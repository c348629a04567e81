package org.janus.machine.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.janus.machine.MachineSpec;
import org.janus.machine.MachineSpec.GuestSection;
import org.janus.machine.MachineSpec.ImageSection;
import org.janus.machine.MachineSpec.KvmSection;
import org.janus.machine.MachineSpec.MemorySection;
import org.janus.machine.MachineSpec.PlatformSection;
import org.janus.machine.MachineSpec.Region;
import org.janus.machine.MachineSpec.VcpuSection;
import org.janus.machine.SpecProblem;

/**
 * Reads a machine spec from JSON and checks its form: every member known, of the right type, required ones
 * present, sizes readable. It does not stop at the first problem: what cannot be read is left null (or out of a
 * list) and reading goes on, so that one pass names every problem with its JSON path.
 */
public final class SpecReader {
    private static final Set<String> ROOT = Set.of("name", "kvm", "platform", "memory", "vcpus", "images", "guest", "boot");
    private static final Set<String> KVM = Set.of("provider", "profile", "hardware");
    private static final Set<String> MEMORY = Set.of("backend", "ram", "mmio", "hugePages");
    private static final Set<String> REGION = Set.of("name", "gpa", "size");
    private static final Set<String> VCPUS = Set.of("count", "model");
    private static final Set<String> IMAGES = Set.of("firmware", "kernel", "initrd", "cmdline");
    private static final Set<String> GUEST = Set.of("program", "options");
    private static final Set<String> BOOT = Set.of("kernel", "initrd", "cmdline", "console");

    /**
     * What was read, and every problem of form; fields that could not be read are null in {@code spec}, and
     * region lists with an entry that could not be read hold the others and are named in {@code partial}
     * ({@code ram}, {@code mmio}), so that their layout is not judged by a part.
     */
    public record Result(MachineSpec spec, List<SpecProblem> problems, Set<String> partial) {
        public Result {
            problems = List.copyOf(problems);
            partial = Set.copyOf(partial);
        }

        public Result(MachineSpec spec, List<SpecProblem> problems) { this(spec, problems, Set.of()); }
    }

    private final Path base;
    private final List<SpecProblem> problems = new ArrayList<>();
    private final Set<String> partial = new HashSet<>();

    private SpecReader(Path base) { this.base = base; }

    /** The largest spec file read: a spec is a page of JSON, and a larger file is refused before it is read. */
    public static final long MAX_SPEC_BYTES = 1 << 20;

    /**
     * A spec file's text, read only when it is a regular file of at most {@link #MAX_SPEC_BYTES}.
     *
     * @throws java.io.IOException naming what is wrong
     */
    public static String readFile(Path file) throws java.io.IOException {
        if (!Files.isRegularFile(file)) throw new java.io.IOException(file + " is not a file");
        long size = Files.size(file);
        if (size > MAX_SPEC_BYTES) throw new java.io.IOException(file + " is " + Sizes.format(size) + ", more than the "
                + Sizes.format(MAX_SPEC_BYTES) + " a machine spec may be");
        return Files.readString(file, java.nio.charset.StandardCharsets.UTF_8);
    }

    public static Result read(String json, Path baseDirectory) {
        SpecReader r = new SpecReader(baseDirectory == null ? Path.of("").toAbsolutePath() : baseDirectory.toAbsolutePath());
        JsonElement root;
        try {
            root = StrictJson.parse(json);
        } catch (StrictJson.Refused e) {
            return new Result(null, List.of(new SpecProblem(e.path, e.getMessage())));
        } catch (java.io.IOException | JsonParseException | IllegalStateException | NumberFormatException e) {
            return new Result(null, List.of(new SpecProblem("$", "not valid JSON: " + e.getMessage())));
        }
        if (!root.isJsonObject()) return new Result(null, List.of(new SpecProblem("$", "a machine spec is a JSON object")));
        MachineSpec spec = r.root(root.getAsJsonObject());
        return new Result(spec, r.problems, r.partial);
    }

    private void problem(String path, String message) { problems.add(new SpecProblem(path, message)); }

    private MachineSpec root(JsonObject o) {
        unknown(o, "$", ROOT);
        String name = string(o, "name", "$");
        if (!o.has("name") || o.get("name").isJsonNull()) name = "vm";
        else if (name != null && name.isBlank()) {
            problem("$.name", "is blank");
            name = null;
        } else if (name != null && (name.length() > 128 || name.chars().anyMatch(Character::isISOControl))) {
            // The name is printed in reports and logs: no line breaks or terminal escapes, no screens full.
            problem("$.name", "must be at most 128 characters without control characters (line breaks, escapes)");
            name = null;
        }
        KvmSection kvm = o.has("kvm") ? kvm(object(o, "kvm", "$")) : KvmSection.DEFAULT;
        PlatformSection platform = platform(o);
        MemorySection memory = memory(o);
        VcpuSection vcpus = o.has("vcpus") ? vcpus(object(o, "vcpus", "$")) : VcpuSection.DEFAULT;
        ImageSection images = o.has("images") ? images(object(o, "images", "$")) : ImageSection.NONE;
        GuestSection guest = o.has("guest") ? guest(object(o, "guest", "$")) : null;
        MachineSpec.BootSection boot = o.has("boot") && !o.get("boot").isJsonNull() ? boot(object(o, "boot", "$")) : null;
        return new MachineSpec(name, kvm, platform, memory, vcpus, images, guest, boot);
    }

    private KvmSection kvm(JsonObject o) {
        if (o == null) return null;
        unknown(o, "$.kvm", KVM);
        // null as absent (auto); a provider of another type is a problem, and the section unread (no KVM is chosen).
        String provider = o.has("provider") && !o.get("provider").isJsonNull() ? string(o, "provider", "$.kvm") : MachineSpec.AUTO;
        String profile = string(o, "profile", "$.kvm");
        String hardware = string(o, "hardware", "$.kvm");
        return provider == null ? null : new KvmSection(provider, profile, hardware);
    }

    private PlatformSection platform(JsonObject root) {
        if (!root.has("platform")) {
            problem("$.platform", "missing: name the platform, e.g. { \"id\": \"sw-protected\" } or { \"id\": \"none\" }");
            return null;
        }
        JsonObject o = object(root, "platform", "$");
        if (o == null) return null;
        String id = string(o, "id", "$.platform");
        if (id == null && !o.has("id")) problem("$.platform.id", "missing: the janus.platform id of a platform (none, sw-protected, sev-snp, ...)");
        Map<String, Object> options = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            if (e.getKey().equals("id")) continue;
            Object v = value(e.getValue(), "$.platform." + e.getKey());
            if (v != null) options.put(e.getKey(), v);
        }
        return id == null ? null : new PlatformSection(id, options);
    }

    private MemorySection memory(JsonObject root) {
        if (!root.has("memory")) {
            problem("$.memory", "missing: at least one RAM region, e.g. { \"ram\": [ { \"name\": \"low\", \"gpa\": 0, \"size\": \"64M\" } ] }");
            return null;
        }
        JsonObject o = object(root, "memory", "$");
        if (o == null) return null;
        unknown(o, "$.memory", MEMORY);
        String backend = o.has("backend") ? string(o, "backend", "$.memory") : MachineSpec.AUTO;
        List<Region> ram = regions(o, "ram", true);
        List<Region> mmio = regions(o, "mmio", false);
        long hugePages = 0;
        if (o.has("hugePages")) {
            JsonElement h = o.get("hugePages");
            String v = h.isJsonPrimitive() && h.getAsJsonPrimitive().isString() ? h.getAsString() : null;
            if ("2M".equals(v)) hugePages = 2L << 20;
            else if ("1G".equals(v)) hugePages = 1L << 30;
            else if (!"4K".equals(v) && !"none".equals(v)) {
                problem("$.memory.hugePages", "must be \"2M\" or \"1G\" (the huge page size of the shared face), or \"none\"; not "
                        + (v != null ? "\"" + v + "\"" : kind(h)));
                return null;
            }
        }
        return backend == null || ram == null || mmio == null ? null : new MemorySection(backend, ram, mmio, hugePages);
    }

    private List<Region> regions(JsonObject o, String member, boolean required) {
        String path = "$.memory." + member;
        if (!o.has(member)) {
            if (required) problem(path, "missing: a list of { \"name\", \"gpa\", \"size\" }");
            return required ? null : List.of();
        }
        JsonElement e = o.get(member);
        if (!e.isJsonArray()) {
            problem(path, "must be a list of { \"name\", \"gpa\", \"size\" }, not " + kind(e));
            return null;
        }
        JsonArray a = e.getAsJsonArray();
        if (required && a.isEmpty()) problem(path, "is empty: a VM needs at least one RAM region");
        List<Region> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            String p = path + "[" + i + "]";
            if (!a.get(i).isJsonObject()) {
                problem(p, "must be an object { \"name\", \"gpa\", \"size\" }, not " + kind(a.get(i)));
                partial.add(member);
                continue;
            }
            JsonObject r = a.get(i).getAsJsonObject();
            unknown(r, p, REGION);
            String name = required(r, "name", p, "a name for messages and reports");
            if (name != null && name.isBlank()) {
                problem(p + ".name", "is blank");
                name = null;
            }
            Long gpa = size(r, "gpa", p);
            Long size = size(r, "size", p);
            if (!r.has("gpa")) problem(p + ".gpa", "missing: the first guest physical address");
            if (!r.has("size")) problem(p + ".size", "missing: the size in bytes (e.g. \"64M\")");
            // An entry that cannot be read is left out (its problems are named); the others are still checked.
            if (name != null && gpa != null && size != null) out.add(new Region(name, gpa, size));
            else partial.add(member);
        }
        return out;
    }

    private VcpuSection vcpus(JsonObject o) {
        if (o == null) return null;
        unknown(o, "$.vcpus", VCPUS);
        Integer count = 1;
        if (o.has("count")) {
            JsonElement c = o.get("count");
            Long n = integer(c);
            if (n == null) {
                problem("$.vcpus.count", "must be a whole number, not " + kind(c));
                count = null;
            } else if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
                problem("$.vcpus.count", n + " is out of range");
                count = null;
            } else {
                count = n.intValue();
            }
        }
        String model = string(o, "model", "$.vcpus");
        return count == null ? null : new VcpuSection(count, model);
    }

    private ImageSection images(JsonObject o) {
        if (o == null) return null;
        unknown(o, "$.images", IMAGES);
        return new ImageSection(firmware(o), path(o, "kernel"), path(o, "initrd"), string(o, "cmdline", "$.images"));
    }

    private Path path(JsonObject o, String member) {
        String s = string(o, member, "$.images");
        if (s == null) return null;
        if (s.isBlank()) {
            problem("$.images." + member, "is blank");
            return null;
        }
        return base.resolve(s).normalize();
    }

    /**
     * The firmware image: a path (absolute, or relative to the spec) as for the other images, or a bare file name,
     * looked up beside the spec and then in {@link #firmwareSearchPath()}, so that a spec can say {@code OVMF.fd}
     * wherever the firmware was installed.
     */
    private Path firmware(JsonObject o) {
        Path named = path(o, "firmware");
        if (named == null) return null;
        String name = o.get("firmware").getAsString();
        if (name.contains("/")) return named;
        if (Files.exists(named)) return named;
        List<Path> searched = firmwareSearchPath();
        for (Path directory : searched) {
            Path candidate = directory.resolve(name).normalize();
            if (Files.exists(candidate)) return candidate;
        }
        problem("$.images.firmware", named + " does not exist, and " + name + " is not found in "
                + String.join(", ", searched.stream().map(Path::toString).toList()));
        return null;
    }

    /**
     * Where bare firmware names are looked up after the spec's directory: the Janus home's {@code firmware/} (the
     * distribution carries OVMF there when the build machine had none installed), then the directories of Debian's
     * {@code ovmf} package. The launcher sets the system property {@code janus.home}; a reader outside a
     * distribution has no home and searches the system directories only.
     */
    static List<Path> firmwareSearchPath() {
        List<Path> path = new ArrayList<>();
        String home = System.getProperty("janus.home");
        if (home != null && !home.isBlank()) path.add(Path.of(home).toAbsolutePath().resolve("firmware").normalize());
        path.add(Path.of("/usr/share/ovmf"));
        path.add(Path.of("/usr/share/OVMF"));
        return path;
    }

    private MachineSpec.BootSection boot(JsonObject o) {
        if (o == null) return null;
        unknown(o, "$.boot", BOOT);
        List<String> notFound = new ArrayList<>();
        Path kernel = bootImage(o, "kernel", notFound);
        if (!o.has("kernel") || o.get("kernel").isJsonNull())
            problem("$.boot.kernel", "missing: the x86-64 bzImage to boot, e.g. \"vmlinuz\"");
        Path initrd = bootImage(o, "initrd", notFound);
        if (!notFound.isEmpty()) {
            // One line for all of them: on a fresh machine both of the example's images are missing, for one reason.
            List<Path> searched = guestImageSearchPath();
            problem(notFound.size() == 1 ? "$.boot." + notFound.get(0).split(" ")[0] : "$.boot",
                    String.join(" and ", notFound.stream().map(n -> n.substring(n.indexOf(' ') + 1)).toList())
                    + " not found beside the spec" + (searched.isEmpty() ? "" : " nor in " + searched.get(0))
                    + "; tools/fetch-linux-guest.sh " + (searched.isEmpty() ? "DIR" : searched.get(0).toString())
                    + " fetches Debian's kernel and builds a busybox initramfs (the images of examples/linux.json)");
        }
        String cmdline = string(o, "cmdline", "$.boot");
        String console = string(o, "console", "$.boot");
        if (console == null) console = MachineSpec.BootSection.STDIO;
        else if (!console.equals(MachineSpec.BootSection.STDIO) && !console.equals(MachineSpec.BootSection.LOG)) {
            problem("$.boot.console", "'" + console + "' is neither stdio (the terminal) nor log");
            console = null;
        }
        return kernel == null || console == null ? null
                : new MachineSpec.BootSection(kernel, initrd, cmdline == null ? "" : cmdline, console);
    }

    /**
     * A kernel or initrd of the boot section: a path (absolute, or relative to the spec), or a bare file name looked
     * up beside the spec and then in {@link #guestImageSearchPath()}. One that is found nowhere is a problem naming
     * where it was looked for and the script that fetches the example's images.
     */
    private Path bootImage(JsonObject o, String member, List<String> notFound) {
        String s = string(o, member, "$.boot");
        if (s == null) return null;
        if (s.isBlank()) {
            problem("$.boot." + member, "is blank");
            return null;
        }
        Path named = base.resolve(s).normalize();
        if (Files.exists(named)) return named;
        if (s.contains("/")) {
            problem("$.boot." + member, named + " does not exist");
            return null;
        }
        for (Path directory : guestImageSearchPath()) {
            Path candidate = directory.resolve(s).normalize();
            if (Files.exists(candidate)) return candidate;
        }
        notFound.add(member + " " + s);
        return null;
    }

    /** Where bare kernel and initrd names are looked up after the spec's directory: the Janus home's {@code guest-images/}. */
    static List<Path> guestImageSearchPath() {
        List<Path> path = new ArrayList<>();
        String home = System.getProperty("janus.home");
        if (home != null && !home.isBlank()) path.add(Path.of(home).toAbsolutePath().resolve("guest-images").normalize());
        return path;
    }

    private GuestSection guest(JsonObject o) {
        if (o == null) return null;
        unknown(o, "$.guest", GUEST);
        String program = required(o, "program", "$.guest", "the janus.guest name of a guest program (e.g. hello)");
        Map<String, Object> options = Map.of();
        if (o.has("options")) {
            JsonElement e = o.get("options");
            if (!e.isJsonObject()) problem("$.guest.options", "must be an object, not " + kind(e));
            else {
                @SuppressWarnings("unchecked")
                Map<String, Object> m = (Map<String, Object>) value(e, "$.guest.options");
                if (m != null) options = m;
            }
        }
        return program == null ? null : new GuestSection(program, options);
    }

    // ---- values ----

    private void unknown(JsonObject o, String path, Set<String> known) {
        for (String key : o.keySet()) {
            if (!known.contains(key)) problem(path + "." + key, "unknown field; known here: " + String.join(", ", known.stream().sorted().toList()));
        }
    }

    private JsonObject object(JsonObject parent, String member, String path) {
        JsonElement e = parent.get(member);
        if (e.isJsonObject()) return e.getAsJsonObject();
        problem(path + "." + member, "must be an object, not " + kind(e));
        return null;
    }

    /** A string member; null (with a problem) when it is there but not a string, null (silently) when absent. */
    private String string(JsonObject o, String member, String path) {
        if (!o.has(member) || o.get(member).isJsonNull()) return null;
        JsonElement e = o.get(member);
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) return e.getAsString();
        problem(path + "." + member, "must be a string, not " + kind(e));
        return null;
    }

    private String required(JsonObject o, String member, String path, String what) {
        if (!o.has(member)) {
            problem(path + "." + member, "missing: " + what);
            return null;
        }
        return string(o, member, path);
    }

    private Long size(JsonObject o, String member, String path) {
        if (!o.has(member)) return null;
        JsonElement e = o.get(member);
        String p = path + "." + member;
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            Long n = integer(e);
            if (n == null) {
                problem(p, e + " is not a whole number of bytes (or overflows 64 bits)");
                return null;
            }
            if (n < 0) {
                problem(p, e + " is negative");
                return null;
            }
            return n;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            try {
                return Sizes.parse(e.getAsString());
            } catch (IllegalArgumentException bad) {
                problem(p, bad.getMessage());
                return null;
            }
        }
        problem(p, "must be a number or a string such as \"64M\" or \"0x100000\", not " + kind(e));
        return null;
    }

    /** A JSON number that is a whole number within 64 bits, else null. */
    private static Long integer(JsonElement e) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) return null;
        try {
            return new BigDecimal(e.getAsString()).longValueExact();
        } catch (ArithmeticException | NumberFormatException notWhole) {
            return null;
        }
    }

    /** A JSON value as plain Java values: String, Long or Double, Boolean, List, Map. Null is refused. */
    private Object value(JsonElement e, String path) {
        if (e.isJsonNull()) {
            problem(path, "null is not a value; leave the member out instead");
            return null;
        }
        if (e.isJsonPrimitive()) {
            JsonPrimitive p = e.getAsJsonPrimitive();
            if (p.isBoolean()) return p.getAsBoolean();
            if (p.isString()) return p.getAsString();
            Long whole = integer(p);
            return whole != null ? (Object) whole : (Object) p.getAsDouble();
        }
        if (e.isJsonArray()) {
            List<Object> list = new ArrayList<>();
            JsonArray a = e.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                Object v = value(a.get(i), path + "[" + i + "]");
                if (v != null) list.add(v);
            }
            return Collections.unmodifiableList(list);
        }
        Map<String, Object> map = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> m : e.getAsJsonObject().entrySet()) {
            Object v = value(m.getValue(), path + "." + m.getKey());
            if (v != null) map.put(m.getKey(), v);
        }
        return Collections.unmodifiableMap(map);
    }

    private static String kind(JsonElement e) {
        if (e.isJsonNull()) return "null";
        if (e.isJsonObject()) return "an object";
        if (e.isJsonArray()) return "a list";
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) return "a boolean (" + p + ")";
        if (p.isNumber()) return "a number (" + p + ")";
        return "a string (" + p + ")";
    }
}
