package org.janus.deploy.internal;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Watches the distribution's {@code deploy/} directory (or the configured one) and keeps the bundles in it
 * installed and started, one scan every {@code pollMillis}. Configured by PID {@value #PID}; a new configuration
 * restarts the watch with the bundles it installed forgotten but left in place.
 */
@Component(immediate = true, configurationPid = Deployer.PID)
@Designate(ocd = Deployer.Config.class)
public final class Deployer {
    static final String PID = "org.janus.deploy";
    private static final System.Logger LOG = System.getLogger(Deployer.class.getName());

    @ObjectClassDefinition(name = "Janus deploy", description = "Bundles dropped into a directory are installed and started.")
    public @interface Config {
        @AttributeDefinition(name = "Directory", description = "The directory watched; empty: deploy/ of the Janus home.")
        String directory() default "";

        @AttributeDefinition(name = "Poll interval (ms)", min = "50")
        long pollMillis() default 500;

        @AttributeDefinition(name = "Largest bundle (bytes)", min = "1")
        long maxBytes() default 64L << 20;

        @AttributeDefinition(name = "Allowed digests",
                description = "SHA-256 (hex) of every jar that may be deployed; empty: any valid bundle.")
        String[] allowedDigests() default {};
    }

    private ScheduledExecutorService scanner;
    /** Registered once the first scan is done: what was in deploy/ at the start is installed (or refused). */
    private org.osgi.framework.ServiceRegistration<Object> scanned;

    @Activate
    synchronized void activate(BundleContext context, Config config) {
        Path dir = directory(context, config);
        Set<String> digests = Arrays.stream(config.allowedDigests()).map(d -> d.strip().toLowerCase(Locale.ROOT))
                .filter(d -> !d.isEmpty()).collect(Collectors.toSet());
        for (String d : digests) {
            if (d.length() != 64 || !d.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                LOG.log(System.Logger.Level.ERROR, PID + ": allowedDigests entry '" + d + "' is not a SHA-256 in hex; deploy/ is not watched");
                return;
            }
        }
        if (config.pollMillis() < 50 || config.maxBytes() < 1) {
            LOG.log(System.Logger.Level.ERROR, PID + ": pollMillis must be at least 50 and maxBytes at least 1; deploy/ is not watched");
            return;
        }
        // What was in deploy/ a second before now is settled; the first scan installs it and then says so with a
        // service (janus.deploy=scanned), which commands that list what is installed wait for.
        DeployDirectory deploy = new DeployDirectory(context, dir, config.maxBytes(), digests, System.currentTimeMillis() - 1000);
        scanner = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "janus-deploy");
            t.setDaemon(true);
            return t;
        });
        scanner.scheduleWithFixedDelay(() -> {
            try {
                for (String line : deploy.scan()) {
                    LOG.log(line.contains(": refused: ") || line.contains("failed") ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                            "deploy/" + line);
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "deploy: a scan of " + dir + " failed: " + DeployDirectory.oneLine(e));
            }
            synchronized (this) {
                if (scanned == null && scanner != null && !scanner.isShutdown())
                    scanned = context.registerService(Object.class, new Object(), new java.util.Hashtable<>(java.util.Map.of("janus.deploy", "scanned",
                            "janus.deploy.directory", dir.toString())));
            }
        }, 0, config.pollMillis(), TimeUnit.MILLISECONDS);
        LOG.log(System.Logger.Level.INFO, "deploy: watching " + dir + (digests.isEmpty() ? "" : " (" + digests.size() + " digests allowed)"));
    }

    static Path directory(BundleContext context, Config config) {
        if (!config.directory().isBlank()) return Path.of(config.directory());
        String home = context.getProperty("janus.home");
        return home == null ? Path.of("deploy").toAbsolutePath() : Path.of(home, "deploy");
    }

    @Deactivate
    void deactivate() {
        synchronized (this) {
            if (scanner != null) scanner.shutdownNow();
            if (scanned != null) {
                try {
                    scanned.unregister();
                } catch (IllegalStateException alreadyGone) {
                    // the framework is stopping
                }
                scanned = null;
            }
        }
        try {
            if (scanner != null) scanner.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

}
