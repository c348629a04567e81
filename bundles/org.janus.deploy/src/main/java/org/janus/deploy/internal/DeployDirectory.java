package org.janus.deploy.internal;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.jar.JarInputStream;
import java.util.jar.Manifest;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.Version;

/**
 * One deploy directory and the bundles it installed. Each {@link #scan()} compares the directory with what it
 * installed: a new jar is checked and installed, a changed one updates its bundle, a removed one uninstalls it. A
 * jar is looked at only once it has stayed the same (size and modification time) across two scans, so that a copy
 * still being written is never read. Whatever is refused (not a jar, not a bundle, not on the digest list, too
 * large, a symbolic name and version already installed, unresolvable, failing to start) gets one line and leaves
 * the framework as it was: a new bundle is uninstalled again, an updated one is put back to the bytes it had.
 * READMEs and hidden files are passed over in silence.
 * Bundles it installed carry the location {@code janus-deploy:<file name>}; bundles installed otherwise are never
 * touched. Not thread-safe: one thread scans.
 */
final class DeployDirectory {
    static final String LOCATION = "janus-deploy:";

    /** What a file looked like at the last scan. */
    private record Seen(long size, long modified) {}

    /** A bundle this directory installed, with the bytes and digest of its file then. */
    private record Deployed(long bundleId, String sha256, byte[] bytes) {}

    private final BundleContext context;
    private final Path directory;
    private final long maxBytes;
    private final Set<String> allowedDigests;
    /** Files last changed before this moment (epoch ms) were there before the directory was watched: settled. */
    private final long settledBefore;
    private final Map<String, Seen> seen = new HashMap<>();
    private final Map<String, Deployed> deployed = new TreeMap<>();
    /** Files refused as they are now, so that a refusal is said once, not at every scan. */
    private final Map<String, Seen> refused = new HashMap<>();

    /**
     * @param allowedDigests lower-case SHA-256 hex digests of the jars that may be deployed; empty: any bundle
     */
    DeployDirectory(BundleContext context, Path directory, long maxBytes, Set<String> allowedDigests) {
        this(context, directory, maxBytes, allowedDigests, Long.MIN_VALUE);
    }

    /**
     * @param settledBefore files last modified before this moment (epoch milliseconds) are read at the first scan
     *        that sees them: they were in place before Janus started, so that bundles dropped earlier are there
     *        when the first scan returns
     */
    DeployDirectory(BundleContext context, Path directory, long maxBytes, Set<String> allowedDigests, long settledBefore) {
        this.context = context;
        this.directory = directory;
        this.maxBytes = maxBytes;
        this.allowedDigests = Set.copyOf(allowedDigests);
        this.settledBefore = settledBefore;
    }

    Path directory() { return directory; }

    /** Looks at the directory once; returns one line for each thing done or refused. */
    List<String> scan() {
        List<String> lines = new ArrayList<>();
        Map<String, Seen> now = new TreeMap<>();
        if (!Files.isDirectory(directory)) return lines;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
            for (Path f : files) {
                try {
                    BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                    if (!a.isRegularFile()) continue;
                    now.put(f.getFileName().toString(), new Seen(a.size(), a.lastModifiedTime().toMillis()));
                } catch (NoSuchFileException gone) {
                    // removed while listing: the next scan sees it gone
                }
            }
        } catch (IOException e) {
            lines.add(directory + ": cannot be listed: " + e.getMessage());
            return lines;
        }
        for (Map.Entry<String, Seen> e : now.entrySet()) {
            String name = e.getKey();
            if (ignored(name)) continue;
            Seen s = e.getValue();
            Seen before = seen.put(name, s);
            boolean old = before == null && s.modified() < settledBefore;
            if (!s.equals(before) && !old) continue;         // new or still changing: wait for it to settle
            if (s.equals(refused.get(name))) continue;       // refused as it is; said already
            String line = settle(name, s);
            if (line != null) lines.add(line);
        }
        seen.keySet().retainAll(now.keySet());
        refused.keySet().retainAll(now.keySet());
        for (String name : List.copyOf(deployed.keySet())) {
            if (!now.containsKey(name)) lines.add(removed(name));
        }
        return lines;
    }

    /**
     * Files that are not meant as bundles and need no word: a README (the distribution ships one in deploy/), and
     * hidden files (an editor's or a copy's temporary file).
     */
    static boolean ignored(String name) { return name.startsWith(".") || name.equals("README") || name.startsWith("README."); }

    /** A file that has settled: install or update its bundle unless that is already done. */
    private String settle(String name, Seen s) {
        Path file = directory.resolve(name);
        if (!name.endsWith(".jar")) return refuse(name, s, "not a jar; deploy/ takes bundles (*.jar) only");
        if (s.size() > maxBytes) return refuse(name, s, s.size() + " bytes, more than the limit of " + maxBytes);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            return refuse(name, s, "cannot be read: " + e.getMessage());
        }
        String digest = sha256(bytes);
        Deployed current = deployed.get(name);
        if (current != null && current.sha256().equals(digest)) return null;
        if (!allowedDigests.isEmpty() && !allowedDigests.contains(digest))
            return refuse(name, s, "SHA-256 " + digest + " is not on the configured digest list");
        String identity;
        try {
            identity = bundleIdentity(bytes);
        } catch (IOException | IllegalArgumentException e) {
            return refuse(name, s, "not a bundle: " + e.getMessage());
        }
        return current == null ? install(name, s, bytes, digest, identity) : update(name, s, current, bytes, digest, identity);
    }

    private String install(String name, Seen s, byte[] bytes, String digest, String identity) {
        Bundle b;
        try {
            b = context.installBundle(LOCATION + name, new ByteArrayInputStream(bytes));
        } catch (BundleException | RuntimeException e) {
            return refuse(name, s, identity + " cannot be installed: " + oneLine(e));
        }
        try {
            b.start();
        } catch (BundleException | RuntimeException e) {
            String why = oneLine(e);
            try {
                b.uninstall();
            } catch (BundleException | RuntimeException u) {
                return refuse(name, s, identity + " did not start (" + why + ") and could not be uninstalled again: " + oneLine(u));
            }
            return refuse(name, s, identity + " did not start, so it was uninstalled again: " + why);
        }
        deployed.put(name, new Deployed(b.getBundleId(), digest, bytes));
        return name + ": installed and started " + identity + " (bundle " + b.getBundleId() + ")";
    }

    private String update(String name, Seen s, Deployed current, byte[] bytes, String digest, String identity) {
        Bundle b = context.getBundle(current.bundleId());
        if (b == null) {
            deployed.remove(name);
            return install(name, s, bytes, digest, identity);
        }
        String was = b.getSymbolicName() + " " + b.getVersion();
        try {
            b.update(new ByteArrayInputStream(bytes));
            if (b.getState() != Bundle.ACTIVE) b.start();
        } catch (BundleException | RuntimeException e) {
            String why = oneLine(e);
            try {
                b.update(new ByteArrayInputStream(current.bytes()));
                b.start();
            } catch (BundleException | RuntimeException back) {
                return refuse(name, s, identity + " did not start (" + why + "), and putting back " + was + " failed too: " + oneLine(back));
            }
            return refuse(name, s, identity + " did not start, so " + was + " was put back: " + why);
        }
        deployed.put(name, new Deployed(b.getBundleId(), digest, bytes));
        return name + ": updated " + was + " to " + identity + " (bundle " + b.getBundleId() + ")";
    }

    private String removed(String name) {
        Deployed d = deployed.remove(name);
        Bundle b = context.getBundle(d.bundleId());
        if (b == null) return name + ": removed; its bundle " + d.bundleId() + " was already gone";
        String what = b.getSymbolicName() + " " + b.getVersion();
        try {
            b.uninstall();
        } catch (BundleException | RuntimeException e) {
            return name + ": removed, but uninstalling " + what + " failed: " + oneLine(e);
        }
        return name + ": removed, so " + what + " (bundle " + d.bundleId() + ") was uninstalled";
    }

    private String refuse(String name, Seen s, String why) {
        refused.put(name, s);
        return name + ": refused: " + why + "; nothing changed";
    }

    /** {@code symbolic-name version} from the jar's manifest, or why it is not a bundle. */
    static String bundleIdentity(byte[] jar) throws IOException {
        try (InputStream in = new ByteArrayInputStream(jar); JarInputStream j = new JarInputStream(in)) {
            Manifest m = j.getManifest();
            if (m == null) throw new IllegalArgumentException("the jar has no META-INF/MANIFEST.MF (or it is not a zip file)");
            String bsn = m.getMainAttributes().getValue(Constants.BUNDLE_SYMBOLICNAME);
            if (bsn == null || bsn.isBlank()) throw new IllegalArgumentException("its manifest has no Bundle-SymbolicName");
            if (!"2".equals(m.getMainAttributes().getValue(Constants.BUNDLE_MANIFESTVERSION)))
                throw new IllegalArgumentException("its manifest lacks Bundle-ManifestVersion: 2");
            String version = m.getMainAttributes().getValue(Constants.BUNDLE_VERSION);
            Version v = version == null ? Version.emptyVersion : Version.parseVersion(version.trim());
            int semicolon = bsn.indexOf(';');
            return (semicolon < 0 ? bsn : bsn.substring(0, semicolon)).trim() + " " + v;
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The exception's message on one line, bounded: a resolver's explanation can be long. */
    static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        m = m.replaceAll("\\s+", " ").strip();
        return m.length() > 400 ? m.substring(0, 400) + "..." : m;
    }

    /** Uninstalls nothing: the bundles stay when the deployer stops (as FileInstall leaves them). For tests. */
    Map<String, Long> deployedBundles() {
        Map<String, Long> out = new TreeMap<>();
        deployed.forEach((k, v) -> out.put(k, v.bundleId()));
        return out;
    }
}
