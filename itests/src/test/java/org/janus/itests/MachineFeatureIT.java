package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.janus.runtime.Launcher;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;

/** The machine feature on an embedded Felix: every bundle active, every service it brings registered. */
class MachineFeatureIT {

    @Test
    void theMachineFeatureStartsAndRegistersItsServices() throws Exception {
        Distribution dist = Distribution.copy("dist-machine-feature");
        Launcher launcher = new Launcher(dist.home());
        Launcher.Started started = launcher.start(List.of("core", "sim", "linux", "machine"), Map.of("gosh.args", "--nointeractive"));
        try {
            assertEquals(List.of(), started.startFailures());
            BundleContext context = started.framework().getBundleContext();
            String notActive = Arrays.stream(context.getBundles()).filter(b -> b.getState() != Bundle.ACTIVE)
                    .map(b -> b.getSymbolicName() + "=" + b.getState()).collect(Collectors.joining(", "));
            assertEquals("", notActive, "bundles not active");
            for (String filter : List.of("(objectClass=org.janus.machine.VmManager)", "(janus.command=run)", "(janus.command=measure)",
                    "(janus.platform=none)", "(janus.platform=sw-protected)", "(janus.platform=sev-snp)",
                    "(janus.memory.backend=guest-memfd)", "(janus.memory.backend=legacy)",
                    "(janus.guest=hello)", "(janus.guest=conversion-storm)", "(janus.guest=linux-snp-boot)",
                    "(janus.guest=framebuffer)", "(janus.guest=script)")) {
                assertNotNull(context.getAllServiceReferences(null, filter), filter + " is registered");
            }
        } finally {
            started.stop();
        }
    }
}
