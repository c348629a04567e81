package org.janus.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.Set;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * Boots Apache Felix from a Janus home ({@code bin/ lib/ bundles/ features/ conf/ deploy/ cache/}): reads the
 * selected features, installs all their bundles, then starts the framework and every bundle. Nothing is resolved
 * from Maven at run time: a feature's {@code g:a:v} is {@code bundles/a-v.jar}.
 */
public final class Launcher {
    /**
     * The framework property (and, under bin/janus, the system property) naming the Janus home, for bundles that
     * look for files in it, such as firmware/.
     */
    public static final String JANUS_HOME = "janus.home";

    private final Path home;

    public Launcher(Path home) {
        this.home = home.toAbsolutePath().normalize();
    }

    public Path home() { return home; }

    public Path bundles() { return home.resolve("bundles"); }

    public Path features() { return home.resolve("features"); }

    public Path conf() { return home.resolve("conf"); }

    public Path deploy() { return home.resolve("deploy"); }

    /** The framework's storage; cleaned when the framework is first initialised in each run. */
    public Path frameworkStorage() { return home.resolve("cache").resolve("felix"); }

    /**
     * A framework that was started, and the bundles that would not start (the rest of the system may still work).
     * Holds the home's lock until {@link #stop()}.
     */
    public record Started(Framework framework, List<String> startFailures, FileChannel lock) {
        public Started {
            startFailures = List.copyOf(startFailures);
        }

        /** Stops the framework (waiting up to 10 s) and releases the home for the next run. Idempotent. */
        public void stop() {
            stopQuietly(framework);
            try {
                lock.close();
            } catch (IOException e) {
                System.err.println("janus: releasing the home's lock: " + e.getMessage());
            }
        }
    }

    /** Reads {@code features/<name>.json}. */
    public Feature feature(String name) throws LaunchException {
        Path file = features().resolve(name + ".json");
        if (!Files.isRegularFile(file)) {
            throw new LaunchException("no feature " + name + " (" + file + " does not exist)");
        }
        return Feature.read(file);
    }

    /**
     * The framework properties: the launcher's (home, storage, FileInstall), then each feature's in order,
     * then {@code conf/framework.properties}, then {@code overrides}; a later source wins.
     */
    public Map<String, String> frameworkProperties(List<Feature> features, Map<String, String> overrides)
            throws LaunchException {
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put(JANUS_HOME, home.toString());
        properties.put(Constants.FRAMEWORK_STORAGE, frameworkStorage().toString());
        properties.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        // FileInstall: configurations (<pid>.cfg) in conf/. Bundles in deploy/ are org.janus.deploy's (janus.home/deploy).
        properties.put("felix.fileinstall.dir", conf().toString());
        properties.put("felix.fileinstall.tmpdir", home.resolve("cache").resolve("fileinstall").toString());
        // Nor does FileInstall write configurations back into conf/: it rewrites a file in place while its own
        // scanner may read it half-written, and so once applied an empty org.janus.kvm.sim (the sim fell back to its
        // defaults). conf/ is written by its owner and by janus, always whole (a finished file renamed into place).
        properties.put("felix.fileinstall.enableConfigSave", "false");
        for (Feature f : features) properties.putAll(f.frameworkProperties());
        Path file = conf().resolve("framework.properties");
        if (Files.isRegularFile(file)) {
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(file)) {
                p.load(in);
            } catch (IOException e) {
                throw new LaunchException("cannot read " + file + ": " + e.getMessage(), e);
            }
            for (String key : p.stringPropertyNames()) properties.put(key, p.getProperty(key));
        }
        properties.putAll(overrides);
        return properties;
    }

    /**
     * Starts a framework with the bundles of the named features.
     *
     * @param overrides framework properties that win over the features' and conf/framework.properties
     * @throws LaunchException when a feature or bundle file is missing, or the framework does not start
     */
    public Started start(List<String> featureNames, Map<String, String> overrides) throws LaunchException {
        List<Feature> features = new ArrayList<>();
        for (String name : featureNames) features.add(feature(name));
        Set<Path> bundleFiles = new LinkedHashSet<>();
        for (Feature f : features) {
            for (String id : f.bundles()) {
                Path jar = Feature.bundleFile(bundles(), id);
                if (!Files.isRegularFile(jar)) {
                    throw new LaunchException("feature " + f.id() + " names " + id + ", but " + jar + " does not exist");
                }
                bundleFiles.add(jar);
            }
        }
        FileChannel lock = lockHome();
        // Felix extracts JNA's native library through Bundle-NativeCode into its own storage, rather than JNA
        // unpacking it into ~/.cache; each bundle revision gets its own path, so JNA can be updated in place.
        if (System.getProperty("jna.nosys") == null) System.setProperty("jna.nosys", "false");

        Framework framework;
        try {
            FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class, Launcher.class.getClassLoader())
                    .findFirst()
                    .orElseThrow(() -> new LaunchException("no OSGi framework on the class path (lib/ lacks Felix)"));
            framework = factory.newFramework(frameworkProperties(features, overrides));
        } catch (LaunchException | RuntimeException e) {
            closeQuietly(lock);
            throw e;
        }
        try {
            framework.init();
            BundleContext context = framework.getBundleContext();
            // Install everything before starting anything, so that the resolver sees every bundle at once.
            List<Bundle> installed = new ArrayList<>();
            for (Path jar : bundleFiles) installed.add(context.installBundle(jar.toUri().toString()));
            framework.start();
            List<String> failures = new ArrayList<>();
            for (Bundle b : installed) {
                if (b.getHeaders().get(Constants.FRAGMENT_HOST) != null) continue;
                try {
                    b.start();
                } catch (BundleException e) {
                    failures.add(b.getSymbolicName() + " " + b.getVersion() + ": " + e.getMessage());
                }
            }
            return new Started(framework, failures, lock);
        } catch (BundleException | RuntimeException e) {
            stopQuietly(framework);
            closeQuietly(lock);
            throw new LaunchException("the framework did not start: " + e.getMessage(), e);
        }
    }

    /**
     * Takes {@code cache/lock}: the framework storage is cleaned at every start, so a second Janus on the same home
     * would delete the bundles of the first from under it.
     */
    private FileChannel lockHome() throws LaunchException {
        Path file = home.resolve("cache").resolve("lock");
        FileChannel channel = null;
        try {
            Files.createDirectories(file.getParent());
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            if (channel.tryLock() != null) return channel;
        } catch (OverlappingFileLockException heldInThisJvm) {
            // fall through: held by another framework of this process
        } catch (IOException e) {
            closeQuietly(channel);
            throw new LaunchException("cannot lock " + file + ": " + e.getMessage(), e);
        }
        closeQuietly(channel);
        throw new LaunchException("another Janus is running from " + home + " (" + file + " is locked); stop it first");
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel == null) return;
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing was written through it
        }
    }

    /** Stops the framework and waits up to 10 s for it. */
    static void stopQuietly(Framework framework) {
        try {
            if ((framework.getState() & (Bundle.STARTING | Bundle.ACTIVE)) != 0) framework.stop();
            framework.waitForStop(10_000);
        } catch (BundleException e) {
            System.err.println("janus: stopping the framework: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
