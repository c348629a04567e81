package org.janus.guests.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.machine.VmState;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The guest programs' own checks: told the wrong thing about contents, or run on a host that converts the wrong
 * range, they fail the VM with a message naming what they found; and their options are checked, each problem with
 * its JSON path, before anything is created.
 */
class GuestProgramChecksTest {

    /** A program told something else than the truth about contents across conversions. */
    record Misinformed(GuestProgramFactory real, UnaryOperator<ConversionContents> lie) implements GuestProgramFactory {
        /** Kept where they are lost or zeroed, zeroed where they are kept. */
        static final UnaryOperator<ConversionContents> OPPOSITE =
                c -> c == ConversionContents.PRESERVED ? ConversionContents.ZEROED : ConversionContents.PRESERVED;

        Misinformed(GuestProgramFactory real) { this(real, OPPOSITE); }

        GuestProgramContext told(GuestProgramContext c) {
            return new GuestProgramContext(c.platform(), c.options(), c.ram(), c.vcpuId(), c.vcpuCount(), c.access(), lie.apply(c.contents()));
        }

        @Override public List<SpecProblem> validate(GuestProgramContext c) { return real.validate(told(c)); }

        @Override public GuestProgram create(GuestProgramContext c) { return real.create(told(c)); }
    }

    /**
     * The legacy backend with a bug: making a 2 MiB range private also makes the first page of the 2 MiB before it
     * shared, which in legacy mode discards that page's private contents.
     */
    record SloppyLegacyBackend(LegacyBackend real) implements MemoryBackend {
        @Override public String id() { return real.id(); }

        @Override public Suitability suitability(KvmVm vm) { return real.suitability(vm); }

        @Override public GuestRam adopt(Kvm kvm, KvmVm vm, org.janus.memory.api.RamHandover handover) { return real.adopt(kvm, vm, handover); }

        @Override public GuestRam create(Kvm kvm, KvmVm vm, RamRegion region, PageState initial) {
            GuestRam ram = real.create(kvm, vm, region, initial);
            return (GuestRam) Proxy.newProxyInstance(GuestRam.class.getClassLoader(), new Class<?>[] {GuestRam.class}, (proxy, method, args) -> {
                try {
                    Object result = method.invoke(ram, args);
                    // The engine converts through begin (then commit); a direct convert is the same conversion.
                    if ((method.getName().equals("begin") || method.getName().equals("convert")) && args[2] == PageState.PRIVATE && (long) args[1] == GuestOps.M2
                            && region.contains((long) args[0] - GuestOps.M2, GuestOps.PAGE))
                        ram.convert((long) args[0] - GuestOps.M2, GuestOps.PAGE, PageState.SHARED);
                    return result;
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            });
        }
    }

    static VmState.Failed failed(RunSummary s) {
        return assertInstanceOf(VmState.Failed.class, s.end(), s.end() + "\n" + s.console());
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"sw-protected", "sev-snp"})
    void theFramebufferNoticesContentsThatDoNotBehaveAsPromised(String platform) throws Exception {
        VmManagerImpl m = Vms.manager(Map.of("misinformed-framebuffer", new Misinformed(new FramebufferFactory())));
        String options = "\"size\": \"64K\", \"frames\": 3";
        VmState.Failed legacy = failed(Vms.run(m, Vms.spec(platform, "7.3", 1, "misinformed-framebuffer", options)));
        assertTrue(legacy.reason().contains("the guest program crashed: framebuffer frame 0, after sharing it (the picture just drawn):"
                + " the framebuffer reads 0x00 at 0x1000000") && legacy.reason().contains("(it reads all zeros: the contents were lost"
                + " in the conversion)"), legacy.reason());
        VmState.Failed inPlace = failed(Vms.run(m, Vms.spec(platform, "inplace", 1, "misinformed-framebuffer", options)));
        if (platform.equals("sev-snp")) {
            // Told its picture survives, it finds the ciphertext the host sees: neither the picture nor zeros.
            assertTrue(inPlace.reason().contains("framebuffer frame 0, after sharing it (the picture just drawn): the framebuffer"
                    + " reads") && !inPlace.reason().contains("all zeros"), inPlace.reason());
        } else {
            assertTrue(inPlace.reason().contains("framebuffer frame 0, after sharing it (legacy: zeros)")
                    && inPlace.reason().contains("expected 0x00 (data where a legacy conversion leaves zeros: the stale side was kept)"),
                    inPlace.reason());
        }
    }

    @Test
    void aFramebufferToldItsPictureIsLostNoticesItWasKept() throws Exception {
        VmManagerImpl m = Vms.manager(Map.of("misinformed-framebuffer",
                new Misinformed(new FramebufferFactory(), c -> ConversionContents.LOST)));
        VmState.Failed f = failed(Vms.run(m, Vms.spec("sw-protected", "inplace", 1, "misinformed-framebuffer",
                "\"size\": \"64K\", \"frames\": 2")));
        assertTrue(f.reason().contains("framebuffer frame 0, after sharing it (encrypted memory: never the guest's picture):"
                + " the framebuffer at [0x1000000, 0x1010000) reads the other side's picture"), f.reason());
    }

    @Test
    void theLinuxBootNoticesAPrivatePageLostToAConversionOfTheWrongRange() throws Exception {
        ServiceDirectory services = Vms.manager().directory().addBackend("legacy", new SloppyLegacyBackend(new LegacyBackend(true)), 10);
        VmManagerImpl m = new VmManagerImpl(services);
        RunSummary s = Vms.run(m, Vms.spec("sev-snp", "7.3", 1, "linux-snp-boot", "\"accept\": \"8M\", \"seed\": 9"));
        VmState.Failed f = failed(s);
        // One vCPU: chunk 0 by MAP_GPA_RANGE, 1 by touch, 2 by MAP_GPA_RANGE, which takes the first page of chunk 1 away.
        // The layout: 2 MiB of kernel data at 16 MiB, the 4 MiB SWIOTLB, then the memory to accept from 22 MiB. The page
        // came back private as a new page, not validated: reading its line at the end of the boot raises #VC.
        long chunk1 = (22L << 20) + (2L << 20);
        assertTrue(f.reason().contains("the guest program crashed: #VC PAGE_NOT_VALIDATED (0x404) at GPA 0x"
                + Long.toHexString(chunk1 + 0)), f.reason());
        assertTrue(s.console().contains("unaccepted memory: [0x1600000, 0x1e00000) (8 MiB) held shared by the host"), s.console());
    }

    @Test
    void aScriptCheckNamesItsStepAndTheFirstByteThatDiffers() throws Exception {
        String steps = "[{\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"8K\",\"to\":\"private\"},"
                + " {\"op\":\"write\",\"gpa\":\"16M\",\"size\":\"8K\",\"pattern\":\"0xa5\"},"
                + " {\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"8K\",\"to\":\"shared\"},"
                + " {\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"8K\",\"to\":\"private\"},"
                + " {\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"8K\",\"pattern\":\"0xa5\"}, {\"op\":\"hlt\"}]";
        RunSummary inPlace = Vms.run(Vms.manager(), Vms.spec("sw-protected", "inplace", 1, "script", "\"steps\": " + steps));
        assertTrue(inPlace.endedNormally(), inPlace.end().toString());
        VmState.Failed legacy = failed(Vms.run(Vms.manager(), Vms.spec("sw-protected", "7.3", 1, "script", "\"steps\": " + steps)));
        assertTrue(legacy.reason().endsWith("the guest program crashed: script: $.guest.options.steps[4] check [0x1000000, 0x1002000)"
                + " for 0xa5 (auto access): the byte at 0x1000000 reads 0x00"), legacy.reason());
    }

    @Test
    void aScriptChecksThatEncryptedMemoryDoesNotShowThePlaintext() throws Exception {
        // On SEV-SNP the guest's shared accesses (and the host) see the ciphertext of a page converted to shared in place.
        String snp = "[{\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"8K\",\"to\":\"private\"},"
                + " {\"op\":\"write\",\"gpa\":\"16M\",\"size\":\"8K\",\"pattern\":\"0xa5\",\"access\":\"private\"},"
                + " {\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"8K\",\"to\":\"shared\"},"
                + " {\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"8K\",\"pattern\":\"0xa5\",\"not\":true,\"access\":\"shared\"},"
                + " {\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"8K\",\"pattern\":\"0xa5\",\"access\":\"shared\"}, {\"op\":\"hlt\"}]";
        VmState.Failed encrypted = failed(Vms.run(Vms.manager(), Vms.spec("sev-snp", "inplace", 1, "script", "\"steps\": " + snp)));
        assertTrue(encrypted.reason().contains("script: $.guest.options.steps[4] check [0x1000000, 0x1002000) for 0xa5 (shared"
                + " access): the byte at 0x1000000 reads 0x"), encrypted.reason());
        // A software-protected VM keeps the page in place: the negated check fails there.
        String swProtected = "[{\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"8K\",\"to\":\"private\"},"
                + " {\"op\":\"write\",\"gpa\":\"16M\",\"size\":\"8K\",\"pattern\":\"0xa5\"},"
                + " {\"op\":\"convert\",\"gpa\":\"16M\",\"size\":\"8K\",\"to\":\"shared\"},"
                + " {\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"8K\",\"pattern\":\"0xa5\",\"not\":true}, {\"op\":\"hlt\"}]";
        VmState.Failed kept = failed(Vms.run(Vms.manager(), Vms.spec("sw-protected", "inplace", 1, "script", "\"steps\": " + swProtected)));
        assertTrue(kept.reason().endsWith("script: $.guest.options.steps[3] check [0x1000000, 0x1002000) not 0xa5 (auto access):"
                + " every byte reads 0xa5"), kept.reason());
    }

    @Test
    void aScriptNamesEveryBadStepWithItsPath() {
        String steps = "[{\"op\":\"convert\",\"gpa\":\"0x1001\",\"size\":\"2M\",\"to\":\"both\"},"
                + " {\"op\":\"write\",\"gpa\":\"3G\",\"size\":\"4K\",\"pattern\":\"0x1a5\",\"colour\":1},"
                + " {\"op\":\"check\",\"gpa\":\"16M\",\"size\":\"4K\",\"pattern\":0,\"access\":\"private\"},"
                + " {\"op\":\"x\"}, {\"op\":\"out\",\"port\":\"0x3f8\",\"value\":\"0x1234\"}, {\"op\":\"hlt\"}, {\"op\":\"print\",\"text\":\"late\"}]";
        SpecException e = assertThrows(SpecException.class,
                () -> Vms.run(Vms.manager(), Vms.spec("sw-protected", "inplace", 1, "script", "\"steps\": " + steps)));
        assertEquals(List.of(
                "$.guest.options.steps[0].gpa: 0x1001 is not 4 KiB aligned",
                "$.guest.options.steps[0].to: 'both' is not private or shared",
                "$.guest.options.steps[1].colour: unknown field for 'write'; known: access, gpa, op, pattern, size",
                "$.guest.options.steps[1]: [0xc0000000, 0xc0001000) is not inside one RAM region",
                "$.guest.options.steps[1].pattern: 0x1a5 is not a byte (0 to 0xff)",
                "$.guest.options.steps[2].access: a sw-protected guest cannot choose private or shared per access (KVM takes it"
                        + " from the page's state); use auto",
                "$.guest.options.steps[3].op: unknown op 'x'; known: check, convert, hlt, out, print, write",
                "$.guest.options.steps[4].value: 0x1234 does not fit in 1 byte",
                "$.guest.options.steps[6]: comes after hlt, which ends the vCPU: it would never run"),
                e.problems().stream().map(SpecProblem::toString).toList());

        SpecException none = assertThrows(SpecException.class, () -> Vms.run(Vms.manager(), Vms.spec("none", "inplace", 1, "script",
                "\"steps\": [{\"op\":\"convert\",\"gpa\":0,\"size\":\"4K\",\"to\":\"private\"}], \"speed\": 2")));
        assertEquals(List.of("$.guest.options.speed", "$.guest.options.steps[0]"), none.problems().stream().map(SpecProblem::path).toList());
        assertTrue(none.problems().get(1).message().contains("a none VM has none"), none.getMessage());
        SpecException missing = assertThrows(SpecException.class, () -> Vms.run(Vms.manager(), Vms.spec("none", "inplace", 1, "script", "")));
        assertEquals("$.guest.options.steps", missing.problems().get(0).path());
    }

    @Test
    void sizesReadAsNumbersHexOrWithBinarySuffixes() {
        assertEquals(4096, GuestOptions.parseSize("4KiB"));
        assertEquals(4096, GuestOptions.parseSize("4kb"));
        assertEquals(64, GuestOptions.parseSize("64B"));
        assertEquals(1L << 30, GuestOptions.parseSize("1G"));
        assertEquals(16, GuestOptions.parseSize("0x10"));
        assertEquals(5, GuestOptions.parseSize(5L));
        for (Object bad : List.<Object>of("-1", "12Q", "0x", "", -3L, 1.5, "9999999999T"))
            assertThrows(IllegalArgumentException.class, () -> GuestOptions.parseSize(bad), String.valueOf(bad));
    }

    @Test
    void theLinuxBootAndTheFramebufferCheckTheirOptionsAndTheVm() {
        SpecException notSnp = assertThrows(SpecException.class,
                () -> Vms.run(Vms.manager(), Vms.spec("sw-protected", "inplace", 1, "linux-snp-boot", "")));
        assertEquals("$.guest.options", notSnp.problems().get(0).path());
        assertTrue(notSnp.getMessage().contains("linux-snp-boot boots an SEV-SNP guest") && notSnp.getMessage().contains("this is a"
                + " sw-protected VM"), notSnp.getMessage());

        SpecException bad = assertThrows(SpecException.class, () -> Vms.run(Vms.manager(), Vms.spec("sev-snp", "inplace", 2,
                "linux-snp-boot", "\"chunk\": \"3M\", \"accept\": \"5M\", \"swiotlb\": \"4K\", \"colour\": 1")));
        assertEquals(List.of("$.guest.options.colour: unknown option; known: accept, chunk, seed, swiotlb",
                "$.guest.options.chunk: 0x300000 is not a power of two (4K, 2M, 1G, ...)",
                "$.guest.options.accept: 0x500000 is not a multiple of the chunk 0x200000",
                "$.guest.options.swiotlb: 0x1000 holds less than one 4 KiB bounce slot for each of the 2 vCPUs"),
                bad.problems().stream().map(SpecProblem::toString).toList());

        SpecException tooBig = assertThrows(SpecException.class,
                () -> Vms.run(Vms.manager(), Vms.spec("sev-snp", "inplace", 1, "linux-snp-boot", "\"accept\": \"4G\"")));
        assertTrue(tooBig.getMessage().contains("no RAM region holds the program's"), tooBig.getMessage());

        SpecException plain = assertThrows(SpecException.class, () -> Vms.run(Vms.manager(), Vms.spec("none", "inplace", 1, "framebuffer", "")));
        assertTrue(plain.getMessage().contains("$.guest.options: framebuffer shares and unshares its memory, and a none VM has no"
                + " private memory"), plain.getMessage());
        SpecException storm = assertThrows(SpecException.class, () -> Vms.run(Vms.manager(), Vms.spec("sev-snp", "inplace", 1,
                "conversion-storm", "\"regions\": [\"ram-low\", \"rom\"]")));
        assertEquals("$.guest.options.regions[1]", storm.problems().get(0).path(), storm.getMessage());
    }
}
