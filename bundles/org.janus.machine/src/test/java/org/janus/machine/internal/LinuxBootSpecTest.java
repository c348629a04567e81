package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.machine.internal.x86boot.SyntheticImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The boot section of a spec: its form, what it needs of the rest of the spec and of the host, one line each. */
class LinuxBootSpecTest {
    private final SimKvm sim = Machines.sim(SimProfile.INPLACE);
    @TempDir Path dir;

    /** The software KVM registered as the linux provider, so that a boot spec gets past "needs real KVM". */
    private static Kvm asLinux(SimKvm sim) {
        return (Kvm) Proxy.newProxyInstance(Kvm.class.getClassLoader(), new Class<?>[] {Kvm.class}, (p, m, args) -> {
            if (m.getName().equals("provider")) return "linux";
            try {
                return m.invoke(sim, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    private String spec(String provider, String boot, String extra) {
        return """
                { "name": "linux",
                  "kvm": { "provider": "%s" },
                  "platform": { "id": "none" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "ram", "gpa": 0, "size": "64M" } ],
                              "mmio": [ { "name": "ioapic", "gpa": "0xfec00000", "size": "4K" } ] },
                  "vcpus": { "count": 1 }%s,
                  "boot": %s }
                """.formatted(provider, extra, boot);
    }

    private SpecValidator.Plan plan(ServiceDirectory services, String json) throws SpecException {
        return new SpecValidator(services).validate(SpecReader.read(json, dir));
    }

    private static Map<String, String> problems(SpecException e) {
        return e.problems().stream().collect(Collectors.toMap(SpecProblem::path, SpecProblem::message, (a, b) -> a + " | " + b));
    }

    private void images() throws Exception {
        Files.write(dir.resolve("vmlinuz"), SyntheticImages.bzImage());
        Files.write(dir.resolve("initrd"), new byte[8192]);
    }

    @Test void withoutRealKvmTheSpecIsOneLineSayingSo() throws Exception {
        images();
        String boot = "{ \"kernel\": \"vmlinuz\", \"initrd\": \"initrd\" }";
        SpecException onSim = assertThrows(SpecException.class, () -> plan(Machines.services(sim), spec("sim", boot, "")));
        assertEquals(1, onSim.problems().size(), onSim.getMessage());
        assertEquals("$.boot", onSim.problems().get(0).path());
        assertTrue(onSim.problems().get(0).message().startsWith("booting a Linux kernel needs real KVM (/dev/kvm, kvm.provider linux)"),
                onSim.getMessage());
        SpecException noLinux = assertThrows(SpecException.class, () -> plan(Machines.services(sim), spec("linux", boot, "")));
        assertEquals(List.of(new SpecProblem("$.boot", "booting a Linux kernel needs real KVM (/dev/kvm, kvm.provider linux); no linux "
                + "provider is registered here (it registers only where /dev/kvm opens)")), noLinux.problems());
        // Even the images being missing too does not make it more than that one line.
        SpecException both = assertThrows(SpecException.class,
                () -> plan(Machines.services(sim), spec("auto", "{ \"kernel\": \"nope\", \"initrd\": \"nope2\" }", "")));
        assertEquals(1, both.problems().size(), both.getMessage());
    }

    @Test void aGoodSpecCarriesTheImagesReadOnce() throws Exception {
        images();
        ServiceDirectory services = Machines.services(sim).addKvm("linux", asLinux(sim), 0);
        SpecValidator.Plan p = plan(services, spec("linux", "{ \"kernel\": \"vmlinuz\", \"initrd\": \"initrd\", \"cmdline\": \"console=ttyS0\" }", ""));
        assertNotNull(p.linux());
        assertEquals("console=ttyS0", p.linux().cmdline());
        assertEquals(8192, p.linux().initrdBytes().length);
        assertEquals("stdio", p.spec().boot().console());
    }

    @Test void missingImagesAreOneLineNamingTheFetchScript() {
        SpecReader.Result r = SpecReader.read(spec("linux", "{ \"kernel\": \"vmlinuz\", \"initrd\": \"initramfs.cpio.gz\" }", ""), dir);
        assertEquals(1, r.problems().size(), r.problems().toString());
        SpecProblem p = r.problems().get(0);
        assertEquals("$.boot", p.path());
        assertTrue(p.message().startsWith("vmlinuz and initramfs.cpio.gz not found beside the spec"), p.message());
        assertTrue(p.message().contains("tools/fetch-linux-guest.sh"), p.message());
        SpecReader.Result one = SpecReader.read(spec("linux", "{ \"kernel\": \"vmlinuz\" }", ""), dir);
        assertEquals("$.boot.kernel", one.problems().get(0).path());
    }

    @Test void theFormOfTheSectionIsChecked() {
        Map<String, String> form = SpecReader.read(spec("linux", "{ \"kernal\": \"x\", \"console\": \"tty\", \"cmdline\": 7 }", ""), dir)
                .problems().stream().collect(Collectors.toMap(SpecProblem::path, SpecProblem::message));
        assertTrue(form.get("$.boot.kernal").startsWith("unknown field; known here: cmdline, console, initrd, kernel"), form.toString());
        assertTrue(form.get("$.boot.kernel").startsWith("missing"), form.toString());
        assertTrue(form.get("$.boot.console").contains("neither stdio"), form.toString());
        assertTrue(form.get("$.boot.cmdline").startsWith("must be a string"), form.toString());
    }

    @Test void whatALinuxBootNeedsOfTheRestOfTheSpec() throws Exception {
        images();
        ServiceDirectory services = Machines.services(sim).addKvm("linux", asLinux(sim), 0)
                .addGuest("hello", new Machines.TestGuest(c -> cpu -> cpu.hlt()));
        String boot = "{ \"kernel\": \"vmlinuz\" }";
        String json = spec("linux", boot, ", \"guest\": { \"program\": \"hello\" }, \"images\": { \"cmdline\": \"x\" }")
                .replace("\"count\": 1", "\"count\": 2")
                .replace("\"size\": \"64M\" }", "\"size\": \"64M\" }, { \"name\": \"top\", \"gpa\": \"0xfff00000\", \"size\": \"1M\" }");
        Map<String, String> p = problems(assertThrows(SpecException.class, () -> plan(services, json)));
        assertTrue(p.get("$.guest").contains("either a guest program or a Linux kernel"), p.toString());
        assertTrue(p.get("$.images").contains("takes none"), p.toString());
        assertTrue(p.get("$.vcpus.count").contains("no ACPI or MP table"), p.toString());
        assertTrue(p.get("$.memory.ram[1]").contains("the TSS pages at 0xfffbd000"), p.toString());

        String priv = spec("linux", boot, "").replace("{ \"id\": \"none\" }", "{ \"id\": \"sw-protected\" }")
                .replace("guest-memfd", "legacy");
        Map<String, String> q = problems(assertThrows(SpecException.class, () -> plan(services, priv)));
        assertTrue(q.get("$.platform.initialState").contains("needs shared RAM"), q.toString());
    }

    @Test void aBadKernelIsAProblemOfTheSpecBeforeAnyVmExists() throws Exception {
        Files.write(dir.resolve("vmlinuz"), new byte[4096]);
        ServiceDirectory services = Machines.services(sim).addKvm("linux", asLinux(sim), 0);
        Map<String, String> p = problems(assertThrows(SpecException.class, () -> plan(services, spec("linux", "{ \"kernel\": \"vmlinuz\" }", ""))));
        assertTrue(p.get("$.boot.kernel").contains("has no \"HdrS\" magic at 0x202"), p.toString());
        Files.write(dir.resolve("vmlinuz"), SyntheticImages.bzImage());
        Map<String, String> c = problems(assertThrows(SpecException.class,
                () -> plan(services, spec("linux", "{ \"kernel\": \"vmlinuz\", \"cmdline\": \"" + "y".repeat(3000) + "\" }", ""))));
        assertTrue(c.get("$.boot.cmdline").contains("3000 bytes"), c.toString());
    }
}
