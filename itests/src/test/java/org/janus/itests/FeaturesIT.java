package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.janus.runtime.LaunchException;
import org.janus.runtime.Launcher;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;

/** Every feature of the distribution, started by the launcher on an embedded Felix in this JVM. */
class FeaturesIT {

    @Test
    void allFeaturesResolveAndStartEveryBundle() throws Exception {
        Distribution dist = Distribution.copy("dist-features");
        Launcher launcher = new Launcher(dist.home());
        Launcher.Started started = launcher.start(List.of("core", "sim", "linux", "shell"),
                Map.of("gosh.args", "--nointeractive"));
        Framework framework = started.framework();
        try {
            assertEquals(List.of(), started.startFailures());
            BundleContext context = framework.getBundleContext();
            String notActive = Arrays.stream(context.getBundles())
                    .filter(b -> b.getState() != Bundle.ACTIVE)
                    .map(b -> b.getSymbolicName() + "=" + b.getState())
                    .collect(Collectors.joining(", "));
            assertEquals("", notActive, "bundles not active");
            assertEquals(18, context.getBundles().length, "system bundle + 12 core + sim + linux + 3 gogo");

            assertTrue(launcher.frameworkStorage().startsWith(dist.home().resolve("cache")),
                    "the framework's storage is inside the Janus home");
            assertEquals(launcher.frameworkStorage().toString(), context.getProperty(Constants.FRAMEWORK_STORAGE));

            ServiceReference<?>[] lb = context.getAllServiceReferences(null, "(osgi.command.function=lb)");
            assertNotNull(lb, "Gogo's lb command is registered");
        } finally {
            started.stop();
        }
        assertEquals(Bundle.RESOLVED, framework.getState());

        // The home is free again: a second start works, and while it runs, a third is refused.
        Launcher.Started again = launcher.start(List.of("core"), Map.of());
        try {
            LaunchException busy = assertThrows(LaunchException.class, () -> launcher.start(List.of("core"), Map.of()));
            assertTrue(busy.getMessage().startsWith("another Janus is running from " + dist.home()), busy.getMessage());
        } finally {
            again.stop();
        }
    }
}
