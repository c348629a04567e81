package org.janus.platform.tck;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.apache.felix.framework.FrameworkFactory;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.wiring.BundleRevision;

/**
 * A Felix with what a platform needs to run VMs on the software KVM: Declarative Services, Config Admin, Gson, JNA,
 * the KVM API and the sim, both memory backends, the devices, the machine and the guest programs, the kit's checks, and the
 * platform under test. The bundles are the jars (or class directories) on the class path of the build that uses
 * the kit, found by their Bundle-SymbolicName, so the versions are the ones that build depends on.
 */
final class TckFramework implements AutoCloseable {
    /** The bundles the kit boots, in install order, by symbolic name. */
    static final List<String> BUNDLES = List.of("org.osgi.util.function", "org.osgi.util.promise", "org.osgi.service.component",
            "org.apache.felix.scr", "org.apache.felix.configadmin", "com.google.gson", "com.sun.jna", "org.janus.kvm.api",
            "org.janus.kvm.libc", "org.janus.kvm.sim", "org.janus.memory.api", "org.janus.memory.gmem", "org.janus.memory.legacy",
            "org.janus.platform.api", "org.janus.devices", "org.janus.machine", "org.janus.guests", "org.janus.platform.tck");
    static final long WAIT_MILLIS = 30_000;

    private final Framework framework;
    private final Bundle platform;
    private final byte[] platformBytes;
    private final BiFunction<String, Map<String, Object>, Map<String, Object>> checks;

    private TckFramework(Framework framework, Bundle platform, byte[] platformBytes,
                         BiFunction<String, Map<String, Object>, Map<String, Object>> checks) {
        this.framework = framework;
        this.platform = platform;
        this.platformBytes = platformBytes;
        this.checks = checks;
    }

    static TckFramework start(PlatformUnderTest subject, Path storage) throws Exception {
        if (System.getProperty("jna.nosys") == null) System.setProperty("jna.nosys", "false");
        Map<String, String> config = new LinkedHashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        Framework framework = new FrameworkFactory().newFramework(config);
        framework.init();
        try {
            BundleContext context = framework.getBundleContext();
            Map<String, URL> onClassPath = bundlesOnClassPath();
            List<Bundle> installed = new ArrayList<>();
            for (String name : BUNDLES) {
                URL where = onClassPath.get(name);
                if (where == null) throw new IllegalStateException("bundle " + name + " is not on the class path; the kit's build "
                        + "depends on it (org.janus:org.janus.platform.tck brings it)");
                installed.add(context.installBundle(where.toString(), new ByteArrayInputStream(bytes(where))));
            }
            byte[] platformBytes = bytes(subject.bundle().toUri().toURL());
            Bundle platform = context.installBundle("janus-tck:" + subject.id(), new ByteArrayInputStream(platformBytes));
            installed.add(platform);
            framework.start();
            for (Bundle b : installed) {
                if ((b.adapt(BundleRevision.class).getTypes() & BundleRevision.TYPE_FRAGMENT) == 0) b.start();
            }
            BiFunction<String, Map<String, Object>, Map<String, Object>> checks = awaitChecks(context);
            return new TckFramework(framework, platform, platformBytes, checks);
        } catch (Exception | Error e) {
            framework.stop();
            framework.waitForStop(WAIT_MILLIS);
            throw e;
        }
    }

    @SuppressWarnings("unchecked")
    private static BiFunction<String, Map<String, Object>, Map<String, Object>> awaitChecks(BundleContext context) throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MILLIS;
        while (true) {
            // Only JDK types cross: the checks' service is a BiFunction from the JDK, like its arguments and results.
            ServiceReference<?>[] refs = context.getAllServiceReferences(BiFunction.class.getName(), "(janus.tck=platform-contract)");
            if (refs != null) return (BiFunction<String, Map<String, Object>, Map<String, Object>>) context.getService(refs[0]);
            if (System.currentTimeMillis() > deadline) throw new IllegalStateException("the kit's checks did not register within " + WAIT_MILLIS + " ms");
            Thread.sleep(10);
        }
    }

    /** Runs one check inside the framework: {@code status} passed, failed or skipped, and a {@code message}. */
    Map<String, Object> check(String name, Map<String, Object> subject) { return checks.apply(name, subject); }

    /** The platform bundle's bytes with another Bundle-Version: the "newer build" the update check installs. */
    byte[] platformWithVersion(String version) throws IOException { return withVersion(platformBytes, version); }

    byte[] platformBytes() { return platformBytes; }

    @Override public void close() throws Exception {
        framework.stop();
        framework.waitForStop(WAIT_MILLIS);
    }

    /** Every bundle on the class path, by symbolic name: jars and class directories with a bundle manifest. */
    static Map<String, URL> bundlesOnClassPath() throws IOException {
        Map<String, URL> out = new LinkedHashMap<>();
        Enumeration<URL> manifests = TckFramework.class.getClassLoader().getResources(JarFile.MANIFEST_NAME);
        while (manifests.hasMoreElements()) {
            URL m = manifests.nextElement();
            try (InputStream in = m.openStream()) {
                String bsn = new Manifest(in).getMainAttributes().getValue(Constants.BUNDLE_SYMBOLICNAME);
                if (bsn == null) continue;
                String name = bsn.split(";")[0].trim();
                out.putIfAbsent(name, containerOf(m));
            }
        }
        return out;
    }

    /** The jar or directory a manifest URL belongs to. */
    private static URL containerOf(URL manifest) throws IOException {
        String s = manifest.toString();
        if (s.startsWith("jar:")) return new URL(s.substring(4, s.indexOf("!/")));
        return new URL(s.substring(0, s.length() - JarFile.MANIFEST_NAME.length()));
    }

    /** A bundle's bytes: the jar itself, or a jar made of a class directory (its manifest first). */
    static byte[] bytes(URL where) throws IOException {
        Path p;
        try {
            p = Path.of(where.toURI());
        } catch (URISyntaxException e) {
            throw new IOException("not a file: " + where, e);
        }
        if (Files.isRegularFile(p)) return Files.readAllBytes(p);
        Path manifestFile = p.resolve(JarFile.MANIFEST_NAME);
        if (!Files.isRegularFile(manifestFile)) throw new IOException(p + " is neither a jar nor a directory with " + JarFile.MANIFEST_NAME);
        Manifest manifest;
        try (InputStream in = Files.newInputStream(manifestFile)) {
            manifest = new Manifest(in);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JarOutputStream jar = new JarOutputStream(out, manifest)) {
            Files.walkFileTree(p, new SimpleFileVisitor<>() {
                @Override public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    if (!dir.equals(p)) {
                        jar.putNextEntry(new JarEntry(p.relativize(dir).toString().replace('\\', '/') + "/"));
                        jar.closeEntry();
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    String name = p.relativize(file).toString().replace('\\', '/');
                    if (name.equals(JarFile.MANIFEST_NAME)) return FileVisitResult.CONTINUE;
                    jar.putNextEntry(new JarEntry(name));
                    Files.copy(file, jar);
                    jar.closeEntry();
                    return FileVisitResult.CONTINUE;
                }
            });
        }
        return out.toByteArray();
    }

    /** {@code jar} with its Bundle-Version replaced. */
    static byte[] withVersion(byte[] jar, String version) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JarInputStream in = new JarInputStream(new ByteArrayInputStream(jar))) {
            Manifest m = new Manifest(in.getManifest());
            m.getMainAttributes().put(new Attributes.Name(Constants.BUNDLE_VERSION), version);
            try (JarOutputStream j = new JarOutputStream(out, m)) {
                for (JarEntry e; (e = in.getNextJarEntry()) != null; ) {
                    j.putNextEntry(new JarEntry(e.getName()));
                    in.transferTo(j);
                    j.closeEntry();
                }
            }
        }
        return out.toByteArray();
    }

}
