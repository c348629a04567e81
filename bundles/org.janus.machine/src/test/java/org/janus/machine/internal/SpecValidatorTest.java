package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.linux.LinuxKvmDevice;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.MachineSpec;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.memory.api.PageState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every problem a spec can have, each named with its JSON path, several at once, before anything is created. */
class SpecValidatorTest {
    static final String RAM = "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"64M\" }";
    static final String MMIO = "{ \"name\": \"ioapic\", \"gpa\": \"0xfec00000\", \"size\": \"4K\" }";

    private final SimKvm inplace = Machines.sim(SimProfile.INPLACE);
    private final ServiceDirectory services = Machines.services(inplace)
            .addGuest("hello", new Machines.TestGuest(c -> cpu -> cpu.hlt()));

    @TempDir Path dir;

    private SpecValidator.Plan plan(String json) throws SpecException {
        return new SpecValidator(services).validate(SpecReader.read(json, dir));
    }

    /** The problems, by path. */
    private Map<String, String> problems(String json) {
        SpecException e = assertThrows(SpecException.class, () -> plan(json), "the spec should be refused: " + json);
        return e.problems().stream().collect(Collectors.toMap(SpecProblem::path, SpecProblem::message, (a, b) -> a + " | " + b));
    }

    private static void assertProblem(Map<String, String> problems, String path, String... words) {
        String message = problems.get(path);
        assertNotNull(message, "no problem at " + path + " in " + problems);
        for (String w : words) assertTrue(message.contains(w), path + ": '" + message + "' lacks '" + w + "'");
    }

    @Test
    void hostileSpecsAreRefusedWithOneLineEach() throws Exception {
        String good = Machines.spec("inplace", "sw-protected", "auto", RAM, MMIO, 1, "hello");
        // A key twice: the last one must not win silently (e.g. a second policy with the debug bit).
        String twice = good.replace("\"platform\": { \"id\": \"sw-protected\" }",
                "\"platform\": { \"id\": \"sw-protected\", \"initialState\": \"private\", \"initialState\": \"shared\" }");
        assertProblem(problems(twice), "$.platform.initialState", "appears twice");
        assertProblem(problems("{ \"name\": " + "[".repeat(200) + "]".repeat(200) + " }"), "$.name" + "[0]".repeat(64), "nested deeper than 64");
        String escape = good.replace("\"name\": \"test\"", "\"name\": \"ok\\n\\u001b[2Jpwned\"");
        SpecException e = assertThrows(SpecException.class, () -> plan(escape));
        assertEquals("$.name", e.problems().get(0).path());
        assertTrue(e.getMessage().lines().count() == 2, "one line per problem: " + e.getMessage());
        // The one line run prints for a spec with one problem (a Linux boot's, which quotes the image names the spec
        // gave) is as safe as the message.
        SpecException quoting = new SpecException(List.of(new SpecProblem("$.boot", "vmlinuz\n\u001b[2J and initrd not found")));
        assertEquals(List.of("$.boot: vmlinuz\\u000a\\u001b[2J and initrd not found"), quoting.lines());

        // A firmware image larger than any real one is refused by its size, before anything reads it.
        Path huge = dir.resolve("huge.fd");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(3L << 30);     // sparse: 3 GiB that cost nothing
        }
        String withFirmware = good.replace("\"vcpus\"", "\"images\": { \"firmware\": \"huge.fd\" }, \"vcpus\"");
        assertProblem(problems(withFirmware), "$.images.firmware", "3 GiB, more than the 64 MiB a firmware image may be");

        // The memslot limit is what this KVM reports (x86: 32764), not the uAPI's 32767.
        StringBuilder ram = new StringBuilder();
        for (int i = 0; i < 32765; i++) ram.append(i == 0 ? "" : ", ").append("{ \"name\": \"r").append(i).append("\", \"gpa\": ")
                .append((long) i * 8192).append(", \"size\": 4096 }");
        assertProblem(problems(Machines.spec("inplace", "sw-protected", "auto", ram.toString(), "", 1, "hello")), "$.memory.ram",
                "32765 RAM regions, one memslot each, but this KVM offers 32764 (KVM_CAP_NR_MEMSLOTS)");
    }

    @Test
    void aSpecFileLargerThanASpecIsNotRead() throws Exception {
        Path big = dir.resolve("big.json");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(1L << 34);
        }
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> SpecReader.readFile(big));
        assertTrue(e.getMessage().contains("16 GiB, more than the 1 MiB a machine spec may be"), e.getMessage());
    }

    @Test
    void theConfiguredDefaultBackendIsTriedFirstForAuto() throws Exception {
        SpecValidator v = new SpecValidator(services);
        String plain = Machines.spec("inplace", "none", "auto", RAM, "", 1, "hello");
        assertEquals("guest-memfd", v.validate(SpecReader.read(plain, dir)).backend(), "auto prefers in place");
        v.preferBackend("legacy");
        SpecValidator.Plan p = v.validate(SpecReader.read(plain, dir));
        assertEquals("legacy", p.backend());
        assertTrue(p.backendReason().startsWith("auto, configured to prefer legacy: "), p.backendReason());
        // A preferred backend that cannot serve the VM is passed over: on 7.3 a software-protected VM has no in-place mode.
        v.preferBackend("guest-memfd");
        assertEquals("legacy", v.validate(SpecReader.read(Machines.spec("7.3", "sw-protected", "auto", RAM, "", 1, "hello"), dir)).backend());
        // An explicit backend in the spec is not overridden.
        v.preferBackend("legacy");
        assertEquals("guest-memfd", v.validate(SpecReader.read(Machines.spec("inplace", "none", "guest-memfd", RAM, "", 1, "hello"), dir)).backend());
    }

    @Test
    void aGoodSpecBecomesAPlan() throws Exception {
        SpecValidator.Plan p = plan(Machines.spec("inplace", "sw-protected", "auto", RAM, MMIO, 2, "hello"));
        assertEquals("sw-protected", p.platform().id());
        assertEquals("guest-memfd", p.backend(), "auto prefers in place");
        assertEquals(PageState.PRIVATE, p.initialState());
        assertTrue(p.kvm().kvm() == inplace, "the registered software KVM of the same profile is used: " + p.kvm().reason());
        SpecValidator.Plan legacy = plan(Machines.spec("7.3", "sw-protected", "auto", RAM, MMIO, 1, "hello"));
        assertEquals("legacy", legacy.backend());
        assertTrue(legacy.kvm().kvm() != inplace && legacy.kvm().reason().contains("of its own"), legacy.kvm().reason());
    }

    @Test
    void problemsOfFormAreNamedWithTheirPathsAllAtOnce() {
        Map<String, String> p = problems("""
                { "name": "x", "colour": "blue",
                  "kvm": { "provider": "sim", "flavour": 1 },
                  "platform": { "id": 7 },
                  "memory": { "ram": [ { "name": "low", "gpa": 0, "size": "64Q", "speed": 3 },
                                       { "name": "high", "gpa": -4096, "size": 1.5 },
                                       { "gpa": 0, "size": "99999999T" } ] },
                  "vcpus": { "count": "two" },
                  "images": { "kernel": 3 },
                  "guest": { "options": [] } }
                """);
        assertProblem(p, "$.colour", "unknown field");
        assertProblem(p, "$.kvm.flavour", "unknown field", "provider");
        assertProblem(p, "$.platform.id", "must be a string");
        assertProblem(p, "$.memory.ram[0].size", "'64Q' is not a size");
        assertProblem(p, "$.memory.ram[0].speed", "unknown field");
        assertProblem(p, "$.memory.ram[1].gpa", "negative");
        assertProblem(p, "$.memory.ram[1].size", "not a whole number");
        assertProblem(p, "$.memory.ram[2].name", "missing");
        assertProblem(p, "$.memory.ram[2].size", "overflows 64 bits");
        assertProblem(p, "$.vcpus.count", "whole number");
        assertProblem(p, "$.images.kernel", "must be a string");
        assertProblem(p, "$.guest.program", "missing");
        assertProblem(p, "$.guest.options", "must be an object");
        assertEquals(13, p.size(), p.toString());
    }

    @Test
    void missingSectionsAndBadJson() {
        assertProblem(problems("{ }"), "$.platform", "missing");
        assertProblem(problems("{ }"), "$.memory", "missing");
        assertProblem(problems("{ \"platform\": { \"id\": \"none\" }, \"memory\": { \"ram\": [] } }"), "$.memory.ram", "empty");
        assertProblem(problems("{ \"platform\": "), "$", "not valid JSON");
        assertProblem(problems("[1]"), "$", "JSON object");
    }

    @Test
    void layoutProblems() {
        String ram = """
                { "name": "low", "gpa": 0, "size": "64M" },
                { "name": "odd", "gpa": "0x10000000", "size": "0x1001" },
                { "name": "nothing", "gpa": "0x20000000", "size": 0 },
                { "name": "skew", "gpa": "0x30000800", "size": "4K" },
                { "name": "wrap", "gpa": "0x7ffffffffffff000", "size": "8K" },
                { "name": "over", "gpa": "32M", "size": "64M" },
                { "name": "low", "gpa": "0x40000000", "size": "4K" }
                """;
        String mmio = "{ \"name\": \"dev\", \"gpa\": \"0x3000000\", \"size\": \"4K\" }";
        Map<String, String> p = problems(Machines.spec("inplace", "none", "auto", ram, mmio, 1, "hello"));
        assertProblem(p, "$.memory.ram[1].size", "0x1001 is not a multiple of the page size 0x1000");
        assertProblem(p, "$.memory.ram[2].size", "is zero");
        assertProblem(p, "$.memory.ram[3].gpa", "0x30000800 is not aligned");
        assertProblem(p, "$.memory.ram[4].size", "overflows 64 bits");
        assertProblem(p, "$.memory.ram[5]", "'over' [0x2000000, 0x6000000) overlaps $.memory.ram[0] 'low' [0x0, 0x4000000)");
        assertProblem(p, "$.memory.mmio[0]", "'dev'", "overlaps $.memory.ram[");
        assertProblem(p, "$.memory.ram[6].name", "'low' is already the name of $.memory.ram[0]");
    }

    @Test
    void moreRegionsThanMemslotsIsRefused() {
        StringBuilder ram = new StringBuilder();
        for (int i = 0; i <= SpecValidator.MAX_MEMSLOTS; i++) {
            if (i > 0) ram.append(',');
            ram.append("{\"name\":\"r").append(i).append("\",\"gpa\":").append(i * 4096L).append(",\"size\":4096}");
        }
        Map<String, String> p = problems(Machines.spec("inplace", "none", "auto", ram.toString(), "", 1, "hello"));
        assertProblem(p, "$.memory.ram", "32768 RAM regions", "at most 32767 memslots");
    }

    @Test
    void kvmProblems() {
        assertProblem(problems(Machines.spec("6.13", "none", "auto", RAM, "", 1, "hello")), "$.kvm.profile",
                "unknown kernel profile '6.13'", "inplace");
        assertProblem(problems(Machines.spec("inplace", "none", "auto", RAM, "", 1, "hello").replace("\"x86\"", "\"sparc\"")),
                "$.kvm.hardware", "unknown hardware 'sparc'");
        assertProblem(problems(Machines.spec("inplace", "none", "auto", RAM, "", 1, "hello").replace("\"sim\"", "\"qemu\"")),
                "$.kvm.provider", "unknown provider 'qemu'", "auto, linux or sim");
        Map<String, String> linux = problems(Machines.spec("inplace", "none", "auto", RAM, "", 1, "hello").replace("\"sim\"", "\"linux\""));
        assertProblem(linux, "$.kvm.profile", "software KVM");
        assertProblem(linux, "$.kvm.hardware", "software KVM");
        assertProblem(problems(Machines.spec("inplace", "none", "auto", RAM, "", 0, "hello")), "$.vcpus.count", "at least one vCPU");
    }

    @Test
    void aGuestProgramNeedsTheSimAndTheSimNeedsAGuestProgram() throws Exception {
        String noGuest = Machines.spec("inplace", "none", "auto", RAM, "", 1, null);
        assertProblem(problems(noGuest), "$.guest", "guest programs, not machine code", "hello");
        assertProblem(problems(Machines.spec("inplace", "none", "auto", RAM, "", 1, "storm")), "$.guest.program",
                "no guest program 'storm' is registered; registered: hello");

        assumeTrue(new File(LinuxKvmDevice.PATH).exists(), "no /dev/kvm: the linux provider cannot be opened here");
        Kvm linux = LinuxKvmDevice.open();
        services.addKvm(linux);
        String onLinux = Machines.spec("inplace", "none", "auto", RAM, "", 1, "hello")
                .replace("\"provider\": \"sim\", \"profile\": \"inplace\", \"hardware\": \"x86\"", "\"provider\": \"linux\"");
        assertProblem(problems(onLinux), "$.guest.program", "only on the software KVM");
    }

    @Test
    void platformProblems() {
        assertProblem(problems(Machines.spec("inplace", "tdx", "auto", RAM, "", 1, "hello")), "$.platform.id",
                "no platform 'tdx' is registered; registered: none, sw-protected");
        String arm = Machines.spec("inplace", "sw-protected", "auto", RAM, "", 1, "hello").replace("\"x86\"", "\"arm64\"");
        assertProblem(problems(arm), "$.platform.id", "cannot run sw-protected VMs", "KVM_CAP_VM_TYPES=0x0 lacks type 1");
        String options = Machines.spec("inplace", "sw-protected", "auto", RAM, "", 1, "hello")
                .replace("\"id\": \"sw-protected\"", "\"id\": \"sw-protected\", \"initialState\": \"half\", \"policy\": 1");
        Map<String, String> p = problems(options);
        assertProblem(p, "$.platform.initialState", "half is not");
        assertProblem(p, "$.platform.policy", "unknown option");
    }

    @Test
    void anExplicitBackendTheVmCannotUseSaysWhatWouldWork() {
        Map<String, String> p = problems(Machines.spec("inplace", "sw-protected", "legacy", RAM, "", 1, "hello"));
        assertProblem(p, "$.memory.backend", "the legacy backend cannot serve this sw-protected VM", "in-place conversion mode",
                "guest-memfd would");
        Map<String, String> q = problems(Machines.spec("7.3", "sw-protected", "guest-memfd", RAM, "", 1, "hello"));
        assertProblem(q, "$.memory.backend", "the guest-memfd backend cannot serve", "VM-wide", "legacy would");
        assertProblem(problems(Machines.spec("inplace", "none", "hugepages", RAM, "", 1, "hello")), "$.memory.backend",
                "no memory backend 'hugepages' is registered");
    }

    @Test
    void imagesMustExist() throws IOException {
        Files.writeString(dir.resolve("kernel.bin"), "x");
        String spec = Machines.spec("inplace", "none", "auto", RAM, "", 1, "hello")
                .replace("\"vcpus\"", "\"images\": { \"kernel\": \"kernel.bin\", \"firmware\": \"missing.fd\", \"initrd\": \".\" }, \"vcpus\"");
        Map<String, String> p = problems(spec);
        assertProblem(p, "$.images.firmware", dir.resolve("missing.fd") + " does not exist");
        assertProblem(p, "$.images.initrd", "is not a file");
        // kernel.bin exists, relative to the spec's directory; the none platform refuses images as such.
        assertProblem(p, "$.images.kernel", "does not load images");
    }

    @Test
    void severalProblemsOfSubstanceTogether() {
        String spec = """
                { "kvm": { "provider": "sim", "profile": "7.3", "hardware": "x86" },
                  "platform": { "id": "sw-protected", "color": "red" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "a", "gpa": 0, "size": "1M" },
                                                                { "name": "b", "gpa": "512K", "size": "1M" } ] },
                  "vcpus": { "count": 0 },
                  "guest": { "program": "nope" } }
                """;
        Map<String, String> p = problems(spec);
        assertEquals(List.of("$.guest.program", "$.memory.backend", "$.memory.ram[1]", "$.platform.color", "$.vcpus.count"),
                p.keySet().stream().sorted().toList(), p.toString());
    }

    @Test
    void anUnreadableRegionDoesNotHideTheOtherProblems() {
        String spec = Machines.spec("7.3", "sw-protected", "guest-memfd",
                "{ \"name\": \"a\", \"gpa\": 0, \"size\": \"1M\" }, { \"name\": \"b\", \"gpa\": 0, \"size\": \"64Q\" }", "", 1, "hello");
        Map<String, String> p = problems(spec);
        assertProblem(p, "$.memory.ram[1].size", "'64Q'");
        assertProblem(p, "$.memory.backend", "the guest-memfd backend cannot serve");
        assertEquals(2, p.size(), "no overlap is judged from a partly read list: " + p);
    }

    @Test
    void parseRefusesProblemsOfFormAndReadsSizes() throws Exception {
        MachineSpec s = MachineSpec.parse("""
                { "platform": { "id": "none" },
                  "memory": { "ram": [ { "name": "a", "gpa": "0x100000", "size": "2MiB" }, { "name": "b", "gpa": "1G", "size": 8192 } ] } }
                """, dir);
        assertEquals("vm", s.name());
        assertEquals("auto", s.kvm().provider());
        assertEquals("auto", s.memory().backend());
        assertEquals(0x100000, s.memory().ram().get(0).gpa());
        assertEquals(2 << 20, s.memory().ram().get(0).size());
        assertEquals(1L << 30, s.memory().ram().get(1).gpa());
        assertEquals(1, s.vcpus().count());
        SpecException e = assertThrows(SpecException.class, () -> MachineSpec.parse("{ \"platform\": { \"id\": \"none\" } }", dir));
        assertEquals("$.memory", e.problems().get(0).path());
        assertEquals(27, Sizes.parse("0x1b"));
        assertEquals(4096, Sizes.parse("4 KiB"));
        assertEquals(3L << 40, Sizes.parse("3T"));
    }

    @Test
    void aSimProfileOtherThanTheRegisteredOneGetsAHostOfItsOwn() throws Exception {
        SimKvm arm = SimKvm.create(SimProfile.K7_3, SimHardware.ARM64);
        services.addKvm(arm);
        SpecValidator.Plan p = plan(Machines.spec("inplace", "none", "auto", RAM, "", 1, "hello"));
        assertTrue(p.kvm().kvm() == inplace, p.kvm().reason());
    }
}
