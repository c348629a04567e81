package org.janus.machine.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.janus.kvm.api.Kvm;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.MachineSpec;
import org.janus.machine.RegionMap;
import org.janus.machine.RunSummary;
import org.janus.machine.ServiceInfo;
import org.janus.machine.ServiceKind;
import org.janus.machine.SwapResult;
import org.janus.machine.VmEvent;
import org.janus.machine.VmListener;
import org.janus.machine.VmStatus;
import org.janus.machine.SpecException;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.janus.memory.api.MemoryBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The {@link VmManager} service. KVM providers, platforms, memory backends and guest programs are tracked
 * dynamically by their service properties; each VM takes the ones it needs when it is created and keeps them.
 */
@Component(service = VmManager.class, configurationPid = VmManagerImpl.PID)
@Designate(ocd = VmManagerImpl.Config.class)
public final class VmManagerImpl implements VmManager {
    private static final System.Logger LOG = System.getLogger(VmManagerImpl.class.getName());
    public static final String PID = "org.janus.machine";

    @ObjectClassDefinition(name = "Janus machine", description = "How VMs behave when the services they are bound to change.")
    public @interface Config {
        @AttributeDefinition(name = "Swap grace period (seconds)",
                description = "How long a VM whose platform or memory backend went away without a replacement stays "
                        + "paused waiting for one before it stops.", min = "0")
        long swapGraceSeconds() default DEFAULT_GRACE_SECONDS;

        @AttributeDefinition(name = "Default memory backend",
                description = "The backend a spec whose memory.backend is auto (or absent) tries first: auto (in place "
                        + "where the kernel allows it, else legacy), guest-memfd or legacy. A backend that cannot serve "
                        + "the VM is passed over as with auto.")
        String defaultBackend() default MachineSpec.AUTO;
    }

    static final long DEFAULT_GRACE_SECONDS = 30;

    private final ServiceDirectory services;
    private final SpecValidator validator;
    private final MachineAssembler assembler;
    private final Map<String, VmInstance> vms = new ConcurrentHashMap<>();
    private final AtomicInteger next = new AtomicInteger();
    private final List<VmListener> listeners = new CopyOnWriteArrayList<>();
    /** Ends the grace periods; its thread exists only while one runs (and a second after). */
    private final ScheduledThreadPoolExecutor timers = graceTimers();
    private volatile long graceNanos = TimeUnit.SECONDS.toNanos(DEFAULT_GRACE_SECONDS);

    public VmManagerImpl() { this(new ServiceDirectory()); }

    /** A manager over services given by hand (outside a framework: tests, tools). */
    public VmManagerImpl(ServiceDirectory services) {
        this.services = services;
        this.validator = new SpecValidator(services);
        this.assembler = new MachineAssembler(services);
    }

    private static ScheduledThreadPoolExecutor graceTimers() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread thread = new Thread(r, "janus-swap-grace");
            thread.setDaemon(true);
            return thread;
        });
        t.setKeepAliveTime(1, TimeUnit.SECONDS);
        t.allowCoreThreadTimeOut(true);
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    /** The services VMs are built from (tests add them by hand). */
    public ServiceDirectory directory() { return services; }

    @Activate
    @Modified
    void configure(Config config) {
        if (config.swapGraceSeconds() < 0) {
            LOG.log(System.Logger.Level.ERROR, PID + ": swapGraceSeconds must not be negative (got " + config.swapGraceSeconds()
                    + "); keeping " + TimeUnit.NANOSECONDS.toSeconds(graceNanos) + " s");
            return;
        }
        graceNanos = TimeUnit.SECONDS.toNanos(config.swapGraceSeconds());
        validator.preferBackend(config.defaultBackend());
    }

    /** Sets the grace period outside a framework (tests). */
    public void graceNanos(long nanos) { graceNanos = nanos; }

    /** The validator this manager checks specs with (the measure command checks what a measurement needs with it). */
    public SpecValidator validator() { return validator; }

    // ---- services ----

    @Reference(service = Kvm.class, cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "removeKvm")
    void addKvm(Kvm kvm, Map<String, Object> properties) {
        services.addKvm(string(properties, Kvm.PROVIDER, kvm.provider()), kvm, ranking(properties));
    }

    void removeKvm(Kvm kvm) { services.removeKvm(kvm); }

    @Reference(service = ConfidentialPlatform.class, cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "removePlatform")
    void addPlatform(ConfidentialPlatform platform, Map<String, Object> properties) {
        String id = string(properties, ConfidentialPlatform.PROPERTY, platform.id());
        services.addPlatform(id, platform, ranking(properties), ServiceDirectory.Origin.of(platform));
        arrived(ServiceKind.PLATFORM, id);
    }

    void removePlatform(ConfidentialPlatform platform) {
        ServiceDirectory.Origin origin = services.origin(platform);
        services.removePlatform(platform);
        gone(ServiceKind.PLATFORM, platform, origin);
    }

    @Reference(service = MemoryBackend.class, cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "removeBackend")
    void addBackend(MemoryBackend backend, Map<String, Object> properties) {
        String id = string(properties, MemoryBackend.PROPERTY, backend.id());
        services.addBackend(id, backend, ranking(properties), ServiceDirectory.Origin.of(backend));
        arrived(ServiceKind.BACKEND, id);
    }

    void removeBackend(MemoryBackend backend) {
        ServiceDirectory.Origin origin = services.origin(backend);
        services.removeBackend(backend);
        gone(ServiceKind.BACKEND, backend, origin);
    }

    // ---- hot swap ----

    private Optional<?> preferred(ServiceKind kind, String id) {
        return kind == ServiceKind.PLATFORM ? services.platform(id) : services.backend(id);
    }

    private static String serviceId(ServiceKind kind, VmInstance vm) {
        return kind == ServiceKind.PLATFORM ? vm.platform() : vm.backendId();
    }

    private List<?> candidates(ServiceKind kind, String id) {
        return kind == ServiceKind.PLATFORM ? services.platforms(id) : services.backends(id);
    }

    /**
     * A service of {@code kind} registered under {@code id}: VMs waiting for one get the first of that id, in order of
     * preference, that can take them over; VMs bound to another service of that id move to it when it is now the
     * preferred one (a higher ranking or version).
     */
    private void arrived(ServiceKind kind, String id) {
        List<?> candidates = candidates(kind, id);
        if (candidates.isEmpty()) return;
        Object best = candidates.get(0);
        for (VmInstance vm : liveVms()) {
            if (!serviceId(kind, vm).equals(id)) continue;
            ServiceInfo from = info(kind, vm);
            if (vm.isWaitingFor(kind)) {
                for (Object candidate : candidates) {
                    Optional<Long> paused = vm.arrived(kind, candidate, services.origin(candidate));
                    if (paused.isPresent()) {
                        swapped(vm, kind, from, paused.get(), 0);
                        break;
                    }
                }
            } else if (vm.bound(kind) != best && vm.bound(kind) != null) {
                try {
                    VmInstance.SwapPause p = vm.rebind(kind, best, services.origin(best));
                    swapped(vm, kind, from, p.pausedNanos(), p.exitsToPark());
                } catch (IllegalStateException e) {
                    LOG.log(System.Logger.Level.WARNING, vm.id() + " stays on " + from.label() + ": " + e.getMessage());
                }
            }
        }
    }

    /**
     * {@code departed} is going away (its bundle is stopping or being updated): every VM bound to it moves to the
     * first remaining service of its id, in order of preference, that can take it over, or parks and waits for one.
     * Returns only when no VM can call into it.
     */
    private void gone(ServiceKind kind, Object departed, ServiceDirectory.Origin origin) {
        for (VmInstance vm : liveVms()) {
            if (vm.bound(kind) != departed) continue;
            String id = serviceId(kind, vm);
            ServiceInfo from = info(kind, vm);
            String why = kind.word() + " " + id + (origin.bundle().isEmpty() ? "" : " (" + origin.bundle() + " " + origin.version() + ")")
                    + " went away";
            boolean moved = false;
            List<String> refusals = new ArrayList<>();
            for (Object replacement : candidates(kind, id)) {
                try {
                    VmInstance.SwapPause p = vm.rebind(kind, replacement, services.origin(replacement));
                    swapped(vm, kind, from, p.pausedNanos(), p.exitsToPark());
                    moved = true;
                    break;
                } catch (IllegalStateException e) {
                    refusals.add(e.getMessage());
                }
            }
            if (moved) continue;
            if (!refusals.isEmpty()) why += "; no remaining " + kind.word() + " can take over (" + String.join("; ", refusals) + ")";
            vm.waitFor(kind, why, graceNanos, timers);
        }
    }

    private void swapped(VmInstance vm, ServiceKind kind, ServiceInfo from, long pausedNanos, long exitsToPark) {
        ServiceInfo to = info(kind, vm);
        LOG.log(System.Logger.Level.INFO, vm.id() + ": " + kind.word() + " " + from.label() + " replaced by " + to.label() + " ("
                + pausedNanos / 1000 + " us paused, " + exitsToPark + " exits to park)");
        fire(new VmEvent.Swapped(vm.id(), kind, from, to, pausedNanos, exitsToPark));
    }

    private List<VmInstance> liveVms() { return vms.values().stream().filter(v -> !v.state().isFinal()).toList(); }

    /** The service of {@code kind} a VM is bound to, described. */
    private ServiceInfo info(ServiceKind kind, VmInstance vm) {
        Object bound = vm.bound(kind);
        ServiceDirectory.Origin o = vm.origin(kind);
        int ranking = 0;
        boolean preferred = false;
        for (ServiceDirectory.Registration<?> r : registrations(kind)) {
            if (r.service() == bound) {
                ranking = r.ranking();
                preferred = r.preferred();
            }
        }
        return new ServiceInfo(kind, serviceId(kind, vm), o.bundle(), o.version(), ranking, preferred,
                bound == null ? List.of() : boundVms(kind, bound));
    }

    private List<? extends ServiceDirectory.Registration<?>> registrations(ServiceKind kind) {
        return kind == ServiceKind.PLATFORM ? services.platformRegistrations() : services.backendRegistrations();
    }

    private List<String> boundVms(ServiceKind kind, Object service) {
        return liveVms().stream().filter(v -> v.bound(kind) == service).map(VmInstance::id).toList();
    }

    private void fire(VmEvent event) {
        for (VmListener l : listeners) {
            try {
                l.event(event);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "a VM listener failed on " + event + ": " + e);
            }
        }
    }

    @Reference(service = GuestProgramFactory.class, cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "removeGuest")
    void addGuest(GuestProgramFactory factory, Map<String, Object> properties) {
        String name = string(properties, GuestProgramFactory.PROPERTY, null);
        if (name == null) {
            LOG.log(System.Logger.Level.WARNING, "a guest program factory without " + GuestProgramFactory.PROPERTY + " is ignored: " + factory);
            return;
        }
        services.addGuest(name, factory, ranking(properties));
    }

    void removeGuest(GuestProgramFactory factory) { services.removeGuest(factory); }

    private static String string(Map<String, Object> properties, String key, String fallback) {
        Object v = properties.get(key);
        return v instanceof String s ? s : fallback;
    }

    private static int ranking(Map<String, Object> properties) {
        return properties.get("service.ranking") instanceof Integer i ? i : 0;
    }

    @Deactivate
    void deactivate() {
        for (VmInstance vm : vms.values()) {
            if (!vm.state().isFinal()) vm.stop("the VM manager is going away");
        }
        timers.shutdownNow();
    }

    // ---- VmManager ----

    @Override public String create(MachineSpec spec) throws SpecException {
        return create(validator.validate(spec));
    }

    /** Creates a VM from what the reader made of a spec: problems of form and of substance are reported together. */
    public String create(SpecReader.Result read) throws SpecException {
        return create(validator.validate(read));
    }

    private String create(SpecValidator.Plan plan) {
        String id = "vm-" + next.incrementAndGet();
        Assembly a = assembler.assemble(plan);
        VmInstance vm = new VmInstance(id, a, services.origin(a.platform), services.origin(a.backend), this::fire);
        vms.put(id, vm);
        return id;
    }

    /**
     * Waits (up to {@code timeout}) for the services a spec names to be registered: its platform, guest program,
     * explicit backend (for {@code auto}, the two built-in ones) and, for {@code linux} or for {@code auto} where
     * /dev/kvm can be opened and no guest program is named, the real KVM. Services of bundles that are still starting thus do not make a spec
     * fail; what never comes is reported by validation.
     */
    public void awaitServices(MachineSpec spec, Duration timeout) throws InterruptedException {
        if (spec == null) return;
        List<String> backends = new ArrayList<>();
        if (spec.memory() != null) {
            if (spec.memory().backend() == null || spec.memory().backend().equals(MachineSpec.AUTO)) backends.addAll(SpecValidator.BACKEND_PREFERENCE);
            else backends.add(spec.memory().backend());
        }
        String provider = spec.kvm() == null ? null : spec.kvm().provider();
        Path devKvm = Path.of("/dev/kvm");
        boolean wantLinux = "linux".equals(provider)
                || (MachineSpec.AUTO.equals(provider) && spec.guest() == null && Files.isReadable(devKvm) && Files.isWritable(devKvm));
        services.awaitUntil(s -> (spec.platform() == null || s.platform(spec.platform().id()).isPresent())
                && (spec.guest() == null || s.guest(spec.guest().program()).isPresent())
                && backends.stream().allMatch(b -> s.backend(b).isPresent())
                && (!wantLinux || s.kvm("linux").isPresent()), System.nanoTime() + timeout.toNanos());
    }

    private VmInstance vm(String id) {
        VmInstance vm = vms.get(id);
        if (vm == null) throw new IllegalArgumentException("no VM " + id + "; known: " + (vms.isEmpty() ? "none" : String.join(", ", vms.keySet())));
        return vm;
    }

    @Override public void start(String id) { vm(id).start(); }

    @Override public void pause(String id) { vm(id).pause(); }

    @Override public void resume(String id) { vm(id).resume(); }

    @Override public RunSummary stop(String id) { return stop(id, "stopped by the host"); }

    /** Stops a VM saying why. */
    public RunSummary stop(String id, String reason) { return vm(id).stop(reason); }

    @Override public List<VmInfo> list() {
        return vms.values().stream().sorted((a, b) -> Integer.compare(number(a.id()), number(b.id())))
                .map(v -> new VmInfo(v.id(), v.name(), v.platform(), v.state())).toList();
    }

    private static int number(String id) { return Integer.parseInt(id.substring(id.indexOf('-') + 1)); }

    @Override public VmState state(String id) { return vm(id).state(); }

    @Override public RunSummary awaitEnd(String id, Duration timeout) throws TimeoutException, InterruptedException {
        return vm(id).awaitEnd(timeout);
    }

    @Override public VmStatus status(String id) {
        VmInstance vm = vm(id);
        VmState state = vm.state();
        long privateBytes = state.isFinal() ? 0 : vm.withRam(rams -> rams.stream().mapToLong(r -> {
            try {
                return r.privateBytes();
            } catch (RuntimeException released) {
                return 0;
            }
        }).sum());
        return new VmStatus(id, vm.name(), state, info(ServiceKind.PLATFORM, vm), info(ServiceKind.BACKEND, vm), vm.vcpuStatus(),
                vm.ramBytes(), privateBytes, vm.conversionCounts(), vm.swaps(), vm.ran(), vm.log());
    }

    @Override public List<RegionMap> memoryMap(String id) {
        VmInstance vm = vm(id);
        if (vm.state().isFinal()) return List.of();
        return vm.withRam(rams -> rams.stream().map(r -> new RegionMap(r.region().name(), r.region().gpa(), r.region().size(),
                r.backend(), r.runs(r.region().gpa(), r.region().size()))).toList());
    }

    @Override public List<ServiceInfo> services() {
        List<ServiceInfo> out = new ArrayList<>();
        for (ServiceKind kind : ServiceKind.values()) {
            for (ServiceDirectory.Registration<?> r : registrations(kind))
                out.add(new ServiceInfo(kind, r.name(), r.origin().bundle(), r.origin().version(), r.ranking(), r.preferred(),
                        boundVms(kind, r.service())));
        }
        return out;
    }

    @Override public SwapResult swap(String id, ServiceKind kind, String serviceId) {
        VmInstance vm = vm(id);
        if (vm.state().isFinal()) throw new IllegalStateException(id + " has ended; nothing to swap");
        String wanted = serviceId == null || serviceId.isBlank() ? serviceId(kind, vm) : serviceId;
        Object next = preferred(kind, wanted).orElseThrow(() -> new IllegalArgumentException("no " + kind.word() + " " + wanted
                + " is registered; registered: " + (registrations(kind).isEmpty() ? "none"
                : String.join(", ", registrations(kind).stream().map(ServiceDirectory.Registration::name).distinct().toList()))));
        ServiceInfo from = info(kind, vm);
        if (vm.isWaitingFor(kind)) {
            long paused = vm.arrived(kind, next, services.origin(next)).orElseThrow(() -> new IllegalStateException(
                    id + " is still waiting: " + vm.state()));
            swapped(vm, kind, from, paused, 0);
            return new SwapResult(id, kind, from, info(kind, vm), true, paused);
        }
        if (vm.bound(kind) == next) return new SwapResult(id, kind, from, from, false, 0);
        VmInstance.SwapPause p = vm.rebind(kind, next, services.origin(next));
        swapped(vm, kind, from, p.pausedNanos(), p.exitsToPark());
        return new SwapResult(id, kind, from, info(kind, vm), true, p.pausedNanos());
    }

    /** The KVM a VM runs on (the host its platform was asked about). */
    Optional<org.janus.kvm.api.Kvm> kvmOf(String id) { return Optional.ofNullable(vm(id).assembly().kvm); }

    @Override public void addListener(VmListener listener) { listeners.add(listener); }

    @Override public void removeListener(VmListener listener) { listeners.remove(listener); }
}
