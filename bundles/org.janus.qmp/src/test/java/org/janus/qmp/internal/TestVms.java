package org.janus.qmp.internal;

import java.time.Duration;
import org.janus.guests.internal.ConversionStormFactory;
import org.janus.guests.internal.HelloFactory;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;

/**
 * The machine's real VM manager outside a framework, with the real platforms and backends, the software KVM and
 * the guest programs of org.janus.guests.
 */
final class TestVms {
    static final Duration WAIT = Duration.ofSeconds(60);

    private TestVms() {}

    static VmManagerImpl manager() {
        return new VmManagerImpl(new ServiceDirectory()
                .addKvm(org.janus.kvm.sim.SimKvm.create(org.janus.kvm.sim.SimProfile.INPLACE, org.janus.kvm.sim.SimHardware.AMD_SNP))
                .addPlatform(new NonePlatform()).addPlatform(new SwProtectedPlatform())
                .addBackend(new GuestMemfdBackend()).addBackend(new LegacyBackend(true))
                .addGuest(HelloFactory.NAME, new HelloFactory())
                .addGuest(ConversionStormFactory.NAME, new ConversionStormFactory()));
    }

    /**
     * A sw-protected VM on the in-place profile whose two vCPUs convert 4K and 2M ranges for a long time (until
     * stopped, in a test's time).
     */
    static String storm(String name) {
        return """
                { "name": "%s",
                  "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
                  "platform": { "id": "sw-protected" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "low", "gpa": 0, "size": "64M" },
                                                                { "name": "high", "gpa": "1G", "size": "16M" } ] },
                  "vcpus": { "count": 2 },
                  "guest": { "program": "conversion-storm",
                             "options": { "seed": 9, "iterations": 1000000, "sizes": [ "4K", "2M" ], "pagesPerRange": 2 } } }
                """.formatted(name);
    }

    /** A plain VM whose vCPU prints a line and halts: it ends by itself. */
    static String hello(String name) {
        return """
                { "name": "%s",
                  "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
                  "platform": { "id": "none" },
                  "memory": { "ram": [ { "name": "low", "gpa": 0, "size": "16M" } ] },
                  "vcpus": { "count": 1 },
                  "guest": { "program": "hello" } }
                """.formatted(name);
    }
}
