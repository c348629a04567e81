package org.janus.deploy.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.apache.felix.framework.FrameworkFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.launch.Framework;

/**
 * The deploy directory on a real Felix: bundles made in the test are dropped, replaced and removed, and every
 * kind of bad file is refused with one line and nothing changed in the framework. Each change is scanned twice:
 * a file is read only once it has stayed the same across two scans.
 */
class DeployDirectoryTest {
    @TempDir Path tmp;
    private Framework framework;
    private BundleContext context;
    private Path deploy;

    @BeforeEach
    void startFelix() throws Exception {
        framework = new FrameworkFactory().newFramework(Map.of(Constants.FRAMEWORK_STORAGE, tmp.resolve("felix").toString(),
                Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT));
        framework.start();
        context = framework.getBundleContext();
        deploy = Files.createDirectories(tmp.resolve("deploy"));
    }

    @AfterEach
    void stopFelix() throws Exception {
        framework.stop();
        framework.waitForStop(10_000);
    }

    /** A bundle with no code: its manifest's headers only (plus {@code extra}). */
    static byte[] bundle(String symbolicName, String version, String... extra) throws IOException {
        Manifest m = new Manifest();
        Attributes a = m.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (symbolicName != null) a.putValue(Constants.BUNDLE_SYMBOLICNAME, symbolicName);
        a.putValue(Constants.BUNDLE_MANIFESTVERSION, "2");
        a.putValue(Constants.BUNDLE_VERSION, version);
        for (int i = 0; i < extra.length; i += 2) a.putValue(extra[i], extra[i + 1]);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JarOutputStream j = new JarOutputStream(out, m)) {
            j.putNextEntry(new JarEntry("README"));
            j.write(("bundle " + symbolicName + " " + version).getBytes());
            j.closeEntry();
        }
        return out.toByteArray();
    }

    /** Writes a file with a modification time of its own, so that a rewrite within one clock tick is still seen. */
    private void drop(String name, byte[] content, long tick) throws IOException {
        Path f = deploy.resolve(name);
        Files.write(f, content);
        Files.setLastModifiedTime(f, FileTime.fromMillis(1_000_000L * tick));
    }

    /** Two scans: the first sees the change, the second acts on it. */
    private List<String> scanTwice(DeployDirectory d) {
        List<String> lines = new java.util.ArrayList<>(d.scan());
        lines.addAll(d.scan());
        return lines;
    }

    private List<String> bundles() {
        return Arrays.stream(context.getBundles()).filter(b -> b.getBundleId() != 0)
                .map(b -> b.getSymbolicName() + " " + b.getVersion() + " " + state(b)).sorted().toList();
    }

    private static String state(Bundle b) {
        return switch (b.getState()) {
            case Bundle.ACTIVE -> "ACTIVE";
            case Bundle.RESOLVED -> "RESOLVED";
            case Bundle.INSTALLED -> "INSTALLED";
            default -> String.valueOf(b.getState());
        };
    }

    @Test
    void aBundleIsInstalledUpdatedAndUninstalledWithItsFile() throws Exception {
        DeployDirectory d = new DeployDirectory(context, deploy, 1 << 20, Set.of());
        drop("good.jar", bundle("test.good", "1.0.0"), 1);
        assertEquals(List.of(), d.scan(), "a new file is not read before it has settled");
        assertEquals(List.of(), bundles());
        List<String> lines = d.scan();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("good.jar: installed and started test.good 1.0.0 (bundle "), lines.get(0));
        assertEquals(List.of("test.good 1.0.0 ACTIVE"), bundles());
        assertEquals(List.of(), scanTwice(d), "an unchanged file is left alone");

        drop("good.jar", bundle("test.good", "2.0.0"), 2);
        lines = scanTwice(d);
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("good.jar: updated test.good 1.0.0 to test.good 2.0.0"), lines.get(0));
        assertEquals(List.of("test.good 2.0.0 ACTIVE"), bundles());

        Files.delete(deploy.resolve("good.jar"));
        lines = d.scan();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("good.jar: removed, so test.good 2.0.0"), lines.get(0));
        assertEquals(List.of(), bundles());
    }

    @Test
    void whatIsNotAGoodBundleIsRefusedOnceAndChangesNothing() throws Exception {
        DeployDirectory d = new DeployDirectory(context, deploy, 4096, Set.of());
        drop("notes.txt", "hello".getBytes(), 1);
        drop("README", "what deploy/ is for".getBytes(), 1);
        drop(".big.jar.part", new byte[10], 1);
        drop("garbage.jar", "this is not a zip file".getBytes(), 1);
        drop("nameless.jar", bundle(null, "1.0.0"), 1);
        drop("unresolvable.jar", bundle("test.needy", "1.0.0", Constants.IMPORT_PACKAGE, "org.nowhere.at.all"), 1);
        drop("noactivator.jar", bundle("test.broken", "1.0.0", Constants.BUNDLE_ACTIVATOR, "org.nowhere.Activator"), 1);
        byte[] big = new byte[8192];
        drop("big.jar", big, 1);
        List<String> lines = scanTwice(d);
        assertEquals(6, lines.size(), String.join("\n", lines));
        assertTrue(lines.stream().allMatch(l -> l.contains(": refused: ") && l.endsWith("; nothing changed") && !l.contains("\n")), String.join("\n", lines));
        assertLine(lines, "notes.txt: refused: not a jar");
        assertLine(lines, "garbage.jar: refused: not a bundle: the jar has no META-INF/MANIFEST.MF");
        assertLine(lines, "nameless.jar: refused: not a bundle: its manifest has no Bundle-SymbolicName");
        assertLine(lines, "unresolvable.jar: refused: test.needy 1.0.0 did not start, so it was uninstalled again: ");
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("unresolvable.jar") && l.contains("org.nowhere.at.all")), String.join("\n", lines));
        assertLine(lines, "noactivator.jar: refused: test.broken 1.0.0 did not start, so it was uninstalled again: ");
        assertLine(lines, "big.jar: refused: 8192 bytes, more than the limit of 4096");
        assertEquals(List.of(), bundles(), "nothing was left installed");
        assertEquals(List.of(), scanTwice(d), "each refusal is said once");

        // The same name fixed is taken.
        drop("unresolvable.jar", bundle("test.needy", "1.0.1"), 2);
        lines = scanTwice(d);
        assertTrue(lines.size() == 1 && lines.get(0).startsWith("unresolvable.jar: installed and started test.needy 1.0.1"), lines.toString());
    }

    @Test
    void bundlesThatWereThereBeforeTheWatchStartedAreInstalledAtTheFirstScan() throws Exception {
        drop("early.jar", bundle("test.early", "1.0.0"), 1);     // modified long before the watch starts
        DeployDirectory d = new DeployDirectory(context, deploy, 1 << 20, Set.of(), System.currentTimeMillis() - 1000);
        List<String> lines = d.scan();
        assertTrue(lines.size() == 1 && lines.get(0).startsWith("early.jar: installed and started test.early 1.0.0"), lines.toString());
        drop("late.jar", bundle("test.late", "1.0.0"), System.currentTimeMillis() / 1_000_000 + 1000);
        assertEquals(List.of(), d.scan(), "a file changed after the watch started waits to settle");
        assertEquals(1, d.scan().size());
    }

    @Test
    void aNewVersionThatDoesNotStartPutsTheOldOneBack() throws Exception {
        DeployDirectory d = new DeployDirectory(context, deploy, 1 << 20, Set.of());
        drop("p.jar", bundle("test.p", "1.0.0"), 1);
        scanTwice(d);
        drop("p.jar", bundle("test.p", "2.0.0", Constants.BUNDLE_ACTIVATOR, "org.nowhere.Activator"), 2);
        List<String> lines = scanTwice(d);
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("p.jar: refused: test.p 2.0.0 did not start, so test.p 1.0.0 was put back: "), lines.get(0));
        assertEquals(List.of("test.p 1.0.0 ACTIVE"), bundles());
    }

    @Test
    void aBundleAlreadyInstalledElsewhereIsRefused() throws Exception {
        context.installBundle("elsewhere", new java.io.ByteArrayInputStream(bundle("test.same", "1.0.0"))).start();
        DeployDirectory d = new DeployDirectory(context, deploy, 1 << 20, Set.of());
        drop("same.jar", bundle("test.same", "1.0.0"), 1);
        List<String> lines = scanTwice(d);
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("same.jar: refused: test.same 1.0.0 cannot be installed: "), lines.get(0));
        assertEquals(List.of("test.same 1.0.0 ACTIVE"), bundles());
    }

    @Test
    void withADigestListOnlyListedJarsAreDeployed() throws Exception {
        byte[] listed = bundle("test.listed", "1.0.0");
        byte[] other = bundle("test.other", "1.0.0");
        DeployDirectory d = new DeployDirectory(context, deploy, 1 << 20, Set.of(DeployDirectory.sha256(listed)));
        drop("listed.jar", listed, 1);
        drop("other.jar", other, 1);
        List<String> lines = scanTwice(d);
        assertEquals(2, lines.size(), lines.toString());
        assertLine(lines, "listed.jar: installed and started test.listed 1.0.0");
        assertLine(lines, "other.jar: refused: SHA-256 " + DeployDirectory.sha256(other) + " is not on the configured digest list; nothing changed");
        assertEquals(List.of("test.listed 1.0.0 ACTIVE"), bundles());
    }

    private static void assertLine(List<String> lines, String start) {
        assertTrue(lines.stream().anyMatch(l -> l.startsWith(start)), "no line starting '" + start + "' in\n" + String.join("\n", lines));
    }
}
