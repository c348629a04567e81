package org.janus.machine.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.janus.kvm.api.Kvm;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.janus.memory.api.MemoryBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The {@link VmManager} service. KVM providers, platforms, memory backends and guest programs are tracked
 * dynamically by their service properties; each VM takes the ones it needs when it is created and keeps them.
 */
@Component(service = VmManager.class)
public final class VmManagerImpl implements VmManager {
    private static final System.Logger LOG = System.getLogger(VmManagerImpl.class.getName());

    private final ServiceDirectory services;
    private final SpecValidator validator;
    private final MachineAssembler assembler;
    private final Map<String, VmInstance> vms = new ConcurrentHashMap<>();
    private final AtomicInteger next = new AtomicInteger();

    public VmManagerImpl() { this(new ServiceDirectory()); }

    /** A manager over services given by hand (outside a framework: tests, tools). */
    public VmManagerImpl(ServiceDirectory services) {
        this.services = services;
        this.validator = new SpecValidator(services);
        this.assembler = new MachineAssembler(services);
    }

    public ServiceDirectory services() { return services; }

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
        services.addPlatform(string(properties, ConfidentialPlatform.PROPERTY, platform.id()), platform, ranking(properties));
    }

    void removePlatform(ConfidentialPlatform platform) { services.removePlatform(platform); }

    @Reference(service = MemoryBackend.class, cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "removeBackend")
    void addBackend(MemoryBackend backend, Map<String, Object> properties) {
        services.addBackend(string(properties, MemoryBackend.PROPERTY, backend.id()), backend, ranking(properties));
    }

    void removeBackend(MemoryBackend backend) { services.removeBackend(backend); }

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
        VmInstance vm = new VmInstance(id, a);
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
}
