package org.janus.machine.internal;

import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.janus.kvm.api.Kvm;
import org.janus.machine.VmManager;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code janus.command=platforms}: every installed platform, its bundle and version, and whether this host can run
 * it and why, for the host report. A JDK-typed command like {@link RunCommand}. Arguments: {@code [--json]
 * [--provider auto|linux|sim]}.
 */
@Component(service = Function.class, property = {
    "janus.command=platforms",
    "janus.command.usage=" + PlatformsCommand.USAGE
})
public final class PlatformsCommand implements Function<List<String>, String> {
    static final String USAGE = "platforms [--json] [--provider auto|linux|sim]";
    static final Duration WAIT = Duration.ofSeconds(10);

    @Reference(service = VmManager.class, target = "(component.name=org.janus.machine.internal.VmManagerImpl)")
    private VmManager service;
    private VmManagerImpl manager;

    public PlatformsCommand() {}

    /** A command on a manager outside a framework. */
    public PlatformsCommand(VmManagerImpl manager) { this.manager = manager; }

    @Activate
    void activate() { manager = (VmManagerImpl) service; }

    @Override public String apply(List<String> args) {
        boolean json = false;
        String provider = "auto";
        for (int i = 0; i < args.size(); i++) {
            switch (args.get(i)) {
                case "--json" -> json = true;
                case "--provider" -> {
                    if (i + 1 >= args.size() || !List.of("auto", "linux", "sim").contains(args.get(i + 1)))
                        throw new IllegalArgumentException("--provider takes auto, linux or sim; usage: " + USAGE);
                    provider = args.get(++i);
                }
                default -> throw new IllegalArgumentException("unknown argument " + args.get(i) + "; usage: " + USAGE);
            }
        }
        String wanted = provider;
        try {
            manager.directory().awaitUntil(s -> InstalledPlatforms.kvm(s, wanted).isPresent(), System.nanoTime() + WAIT.toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        Kvm kvm = InstalledPlatforms.kvm(manager.directory(), provider)
                .orElseThrow(() -> new IllegalStateException("no " + wanted + " KVM provider is registered"));
        List<InstalledPlatforms.Entry> entries = InstalledPlatforms.on(manager.directory(), kvm);
        return json ? InstalledPlatforms.json(entries) : InstalledPlatforms.text(entries, kvm);
    }
}
