package org.janus.machine.internal.x86boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BzImageTest {

    private static BzImage parse(Consumer<SyntheticBzImage> change) {
        SyntheticBzImage s = new SyntheticBzImage();
        change.accept(s);
        return BzImage.parse(s.build(), "test.bzImage");
    }

    private static String refusal(Consumer<SyntheticBzImage> change) {
        BootImageException e = assertThrows(BootImageException.class, () -> parse(change));
        assertTrue(e.getMessage().startsWith("kernel test.bzImage "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    @Test void aGoodImageIsSplitIntoItsHeaderAndKernel() {
        SyntheticBzImage s = new SyntheticBzImage();
        byte[] file = s.build();
        BzImage k = BzImage.parse(file, "test.bzImage");
        assertEquals(2, k.setupSects());
        assertEquals(0x020f, k.version());
        assertEquals("2.15", k.versionText());
        assertTrue(k.relocatable());
        assertEquals(0x200000, k.kernelAlignment());
        assertEquals(0x1000000, k.prefAddress());
        assertEquals(0x800000, k.initSize());
        assertEquals(2047, k.cmdlineSize());
        assertTrue(k.canBeLoadedAbove4G());
        assertArrayEquals(Arrays.copyOfRange(file, 3 * 512, file.length), k.kernel());
        assertArrayEquals(Arrays.copyOfRange(file, 0x1f1, 0x268), k.header());
    }

    @Test void setupSectsZeroMeansFour() {
        assertEquals(4, parse(s -> s.setupSects = 0).setupSects());
    }

    @Test void refusesWhatIsNotABzImage() {
        assertTrue(refusal(s -> s.magic = 0x464c457f).contains("no \"HdrS\" magic at 0x202"));
        assertTrue(refusal(s -> s.bootFlag = 0x1234).contains("boot_flag 0x1234"));
        BootImageException tiny = assertThrows(BootImageException.class, () -> BzImage.parse(new byte[100], "tiny"));
        assertTrue(tiny.getMessage().contains("too short for the setup header"), tiny.getMessage());
    }

    @Test void refusesATruncatedImage() {
        byte[] whole = new SyntheticBzImage().build();
        BootImageException e = assertThrows(BootImageException.class, () -> BzImage.parse(Arrays.copyOf(whole, whole.length - 4096), "cut"));
        assertTrue(e.getMessage().contains("syssize") && e.getMessage().contains("truncated"), e.getMessage());
        BootImageException setupOnly = assertThrows(BootImageException.class, () -> BzImage.parse(Arrays.copyOf(whole, 3 * 512), "cut"));
        assertTrue(setupOnly.getMessage().contains("setup sectors alone"), setupOnly.getMessage());
    }

    @Test void refusesOldProtocolsAnd32BitKernels() {
        assertTrue(refusal(s -> s.version = 0x020a).contains("boot protocol 2.10; the 64-bit direct boot needs 2.12"));
        assertTrue(refusal(s -> s.xloadflags = 0).contains("XLF_KERNEL_64"));
        assertTrue(refusal(s -> s.loadflags = 0).contains("LOADED_HIGH"));
    }

    @Test void refusesInconsistentHeaders() {
        assertTrue(refusal(s -> s.kernelAlignment = 0x300000).contains("not a power of two"));
        assertTrue(refusal(s -> s.initSize = 0x1000).contains("init_size 0x1000"));
        assertTrue(refusal(s -> s.headerLength = 0x20).contains("setup header ending at 0x222"));
        assertTrue(refusal(s -> s.syssizeOverride = 0).contains("syssize 0"));
    }

    @Test void filesAreReadWithinTheirLimit(@TempDir Path dir) throws IOException {
        Path big = Files.write(dir.resolve("big"), new byte[5000]);
        BootImageException over = assertThrows(BootImageException.class, () -> BootFiles.read(big, 4096, "initrd"));
        assertTrue(over.getMessage().contains("5000 bytes, more than the 4096"), over.getMessage());
        assertEquals(5000, BootFiles.read(big, 5000, "initrd").length);
        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        assertTrue(assertThrows(BootImageException.class, () -> BootFiles.read(empty, 10, "kernel")).getMessage().endsWith("is empty"));
        BootImageException missing = assertThrows(BootImageException.class, () -> BootFiles.read(dir.resolve("none"), 10, "kernel"));
        assertTrue(missing.getMessage().startsWith("kernel " + dir.resolve("none") + " cannot be read"), missing.getMessage());
    }

    @Test void imagesNameTheMemberThatIsWrong(@TempDir Path dir) throws Exception {
        Path kernel = Files.write(dir.resolve("k"), new SyntheticBzImage().build());
        Path initrd = Files.write(dir.resolve("i"), new byte[8192]);
        LinuxImages ok = LinuxImages.read(kernel, 1 << 20, initrd, 1 << 20, "console=ttyS0");
        assertEquals(8192, ok.initrdBytes().length);
        assertEquals(LinuxImages.Member.INITRD, assertThrows(LinuxImages.Problem.class,
                () -> LinuxImages.read(kernel, 1 << 20, initrd, 4096, "")).member());
        assertEquals(LinuxImages.Member.KERNEL, assertThrows(LinuxImages.Problem.class,
                () -> LinuxImages.read(initrd, 1 << 20, null, 4096, "")).member());
        LinuxImages.Problem longLine = assertThrows(LinuxImages.Problem.class,
                () -> LinuxImages.read(kernel, 1 << 20, null, 4096, "x".repeat(2048)));
        assertEquals(LinuxImages.Member.CMDLINE, longLine.member());
        assertTrue(longLine.getMessage().contains("2048 bytes") && longLine.getMessage().contains("at most 2047 (cmdline_size)"),
                longLine.getMessage());
    }

    /**
     * A real distribution kernel: Debian's, as the nested environment caches it (itests/nested-kvm/setup.sh), or the
     * host's own. In the nested run (janus.kvm.required) it must be there.
     */
    @Test @Tag("real-kvm")
    void aRealDebianKernelParses() throws IOException {
        Optional<Path> found = realKernel();
        if (!Boolean.getBoolean("janus.kvm.required"))
            assumeTrue(found.isPresent(), "no Debian kernel cached by itests/nested-kvm/setup.sh and none in /boot");
        Path file = found.orElseThrow(() -> new AssertionError("no kernel in the nested cache or /boot"));
        BzImage k = BzImage.parse(BootFiles.read(file, 128 << 20, "kernel"), file.toString());
        assertTrue(k.version() >= BzImage.MIN_VERSION, k.toString());
        assertTrue(k.relocatable(), "Debian builds relocatable kernels");
        assertTrue((k.xloadflags() & BzImage.XLF_KERNEL_64) != 0);
        assertTrue(k.cmdlineSize() >= 2047, "x86's COMMAND_LINE_SIZE is 2048");
        assertTrue(k.initSize() > k.kernel().length);
    }

    static Optional<Path> realKernel() throws IOException {
        Path cache = Path.of(System.getenv().getOrDefault("JANUS_NESTED_CACHE", "/var/cache/janus-nested"));
        if (Files.isDirectory(cache)) {
            try (Stream<Path> s = Files.list(cache)) {
                Optional<Path> k = s.map(d -> d.resolve("vmlinuz")).filter(Files::isRegularFile).findFirst();
                if (k.isPresent()) return k;
            }
        }
        if (Files.isDirectory(Path.of("/boot"))) {
            try (Stream<Path> s = Files.list(Path.of("/boot"))) {
                return s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p))
                        .max(Comparator.naturalOrder());
            }
        }
        return Optional.empty();
    }
}
