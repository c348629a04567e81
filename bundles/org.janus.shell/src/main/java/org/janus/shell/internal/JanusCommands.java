package org.janus.shell.internal;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.janus.machine.MachineSpec;
import org.janus.machine.RegionMap;
import org.janus.machine.RunSummary;
import org.janus.machine.ServiceInfo;
import org.janus.machine.ServiceKind;
import org.janus.machine.SpecException;
import org.janus.machine.SwapResult;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.janus.machine.VmStatus;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;

/**
 * Gogo commands in the {@code janus} scope over the machine's {@link VmManager}. Each returns a value for Gogo to
 * print (records print as one line each, lists one element per line); a failure is an exception whose message is
 * one line. Where Gogo's own commands have the same name ({@code start}, {@code stop}), type {@code janus:start}.
 *
 * <p>The manager is optional: in a framework without the machine feature the commands are there and say so.
 */
@Component(service = JanusCommands.class, property = {"osgi.command.scope=janus",
        "osgi.command.function=vms", "osgi.command.function=start", "osgi.command.function=stop",
        "osgi.command.function=pause", "osgi.command.function=resume", "osgi.command.function=memmap",
        "osgi.command.function=platforms", "osgi.command.function=backends", "osgi.command.function=swap"})
public final class JanusCommands {

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile VmManager manager;

    public JanusCommands() {}

    /** Commands over a manager given by hand (tests). */
    public JanusCommands(VmManager manager) { this.manager = manager; }

    /** One VM, as {@code vms} lists it. */
    public record Vm(String id, String name, String platform, VmState state) {
        @Override public String toString() { return String.format("%-8s %-12s %-14s %s", id, name, platform, state); }
    }

    /** How a VM ended. */
    public record Ended(String id, VmState end, boolean endedNormally, Duration ran) {
        @Override public String toString() {
            return id + " " + end + (endedNormally ? ", ended normally" : "") + ", ran " + ran.toMillis() + " ms";
        }
    }

    /** A platform or memory backend. */
    public record Service(ServiceKind kind, String id, String bundle, String version, int ranking, boolean preferred, List<String> vms) {
        @Override public String toString() {
            return String.format("%-13s %-30s %-22s ranking %-4d%s vms: %s", id, bundle.isEmpty() ? "-" : bundle,
                    version.isEmpty() ? "-" : version, ranking, preferred ? " preferred" : "          ",
                    vms.isEmpty() ? "none" : String.join(", ", vms));
        }
    }

    /** What a swap did. */
    public record Swap(String vm, ServiceKind kind, String from, String to, boolean swapped, long pausedMicros) {
        @Override public String toString() {
            return swapped ? vm + ": " + kind.word() + " " + from + " -> " + to + ", paused " + pausedMicros + " us"
                    : vm + ": already on the preferred " + kind.word() + " " + to + "; nothing swapped";
        }
    }

    /** Every VM, ended ones included. */
    public List<Vm> vms() {
        return manager().list().stream().map(v -> new Vm(v.id(), v.name(), v.platform(), v.state())).toList();
    }

    /** Creates the VM of a machine spec file and starts it; returns its id. */
    public String start(String spec) {
        VmManager m = manager();
        Path file = Path.of(spec);
        try {
            String id = m.create(MachineSpec.read(file));
            m.start(id);
            return id;
        } catch (SpecException e) {
            throw new IllegalArgumentException(file + ": " + e.problems().size() + (e.problems().size() == 1 ? " problem: " : " problems: ")
                    + e.problems().stream().map(Object::toString).collect(Collectors.joining("; ")), e);
        }
    }

    /** Ends a VM and releases what it holds. */
    public Ended stop(String id) {
        RunSummary s = manager().stop(id);
        return new Ended(id, s.end(), s.endedNormally(), s.ran());
    }

    public Vm pause(String id) {
        manager().pause(id);
        return vm(id);
    }

    public Vm resume(String id) {
        manager().resume(id);
        return vm(id);
    }

    /** The private and shared ranges of each RAM region of a VM (see {@link MemoryBar}). */
    public String memmap(String id) {
        VmManager m = manager();
        List<RegionMap> map = m.memoryMap(id);
        if (map.isEmpty()) throw new IllegalStateException(id + " has ended (" + m.state(id) + "); its memory is released");
        StringBuilder sb = new StringBuilder();
        sb.append(id).append(": P private, . shared, p both; each character is 1/").append(MemoryBar.WIDTH).append(" of its region")
                .append(System.lineSeparator());
        for (RegionMap r : map) sb.append(MemoryBar.describe(r));
        return sb.toString().stripTrailing();
    }

    public List<Service> platforms() { return services(ServiceKind.PLATFORM); }

    public List<Service> backends() { return services(ServiceKind.BACKEND); }

    /** Rebinds a VM to the preferred platform or backend of its own id. */
    public Swap swap(String id, String kind) { return swap(id, kind, null); }

    /** Rebinds a VM to the preferred platform or backend registered as {@code serviceId}. */
    public Swap swap(String id, String kind, String serviceId) {
        ServiceKind k = switch (kind.toLowerCase(Locale.ROOT)) {
            case "platform" -> ServiceKind.PLATFORM;
            case "backend" -> ServiceKind.BACKEND;
            default -> throw new IllegalArgumentException("swap " + id + " " + kind + ": the kind is platform or backend");
        };
        SwapResult r = manager().swap(id, k, serviceId);
        return new Swap(r.vm(), r.kind(), r.from().label(), r.to().label(), r.swapped(), r.pausedNanos() / 1000);
    }

    private List<Service> services(ServiceKind kind) {
        return manager().services().stream().filter(s -> s.kind() == kind).map(JanusCommands::service).toList();
    }

    private static Service service(ServiceInfo s) {
        return new Service(s.kind(), s.id(), s.bundle(), s.version(), s.ranking(), s.preferred(), s.vms());
    }

    private Vm vm(String id) {
        VmStatus s = manager().status(id);
        return new Vm(s.id(), s.name(), s.platform().id(), s.state());
    }

    private VmManager manager() {
        VmManager m = manager;
        if (m == null) throw new IllegalStateException("no VM manager: the machine feature is not started (janus shell --feature machine)");
        return m;
    }
}
