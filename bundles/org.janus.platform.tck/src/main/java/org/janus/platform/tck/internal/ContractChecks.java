package org.janus.platform.tck.internal;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.program.FaultPoints;
import org.janus.kvm.api.program.ModelledKvm;
import org.janus.machine.MachineException;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.SpecProblem;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.janus.machine.VmStatus;
import org.janus.platform.api.ConfidentialPlatform;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The platform contract, checked inside the framework. Each check takes the platform under test as JDK values (its
 * id, hardware, specs by strategy, refusals) and answers {@code status} ({@code passed}, {@code failed},
 * {@code skipped}) and a {@code message}: only JDK types cross the framework's boundary, so the kit's JUnit side,
 * loaded by the application class loader, never shares a class with the bundles.
 */
@Component(service = BiFunction.class, property = "janus.tck=platform-contract")
public final class ContractChecks implements BiFunction<String, Map<String, Object>, Map<String, Object>> {
    static final Duration WAIT = Duration.ofSeconds(120);

    private final BundleContext context;
    private final VmManager manager;
    private final ConfigurationAdmin configurationAdmin;

    @Activate
    public ContractChecks(BundleContext context, @Reference VmManager manager, @Reference ConfigurationAdmin configurationAdmin) {
        this.context = context;
        this.manager = manager;
        this.configurationAdmin = configurationAdmin;
    }

    /** A check's verdict. */
    static final class Failed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failed(String message) { super(message); }
    }

    static void require(boolean condition, String message) {
        if (!condition) throw new Failed(message);
    }

    @Override public Map<String, Object> apply(String check, Map<String, Object> subject) {
        Map<String, Object> result = new LinkedHashMap<>();
        try {
            String message = switch (check) {
                case "registration" -> registration(subject);
                case "support" -> support(subject);
                case "validation" -> validation(subject);
                case "launch-and-conversions" -> launchAndConversions(subject);
                case "failures-leave-nothing-behind" -> failures(subject);
                case "update-under-a-running-guest" -> update(subject);
                default -> throw new IllegalArgumentException("no check " + check);
            };
            result.put("status", "passed");
            result.put("message", message);
        } catch (Failed f) {
            result.put("status", "failed");
            result.put("message", f.getMessage());
        } catch (Exception | Error e) {
            result.put("status", "failed");
            result.put("message", check + " threw " + e);
        }
        return result;
    }

    @SuppressWarnings("unchecked")
    private static <T> T get(Map<String, Object> m, String key) { return (T) m.get(key); }

    private ServiceReference<?> platformReference(String id) throws Exception {
        ServiceReference<?>[] refs = context.getServiceReferences(ConfidentialPlatform.class.getName(), "(" + ConfidentialPlatform.PROPERTY + "=" + id + ")");
        require(refs != null && refs.length > 0, "no ConfidentialPlatform service with " + ConfidentialPlatform.PROPERTY + "=" + id + " is registered");
        return refs[0];
    }

    private ConfidentialPlatform platform(String id) throws Exception {
        return (ConfidentialPlatform) context.getService(platformReference(id));
    }

    private Bundle bundleUnderTest(String id) {
        Bundle b = context.getBundle("janus-tck:" + id);
        require(b != null, "the platform bundle under test is not installed");
        return b;
    }

    /** The service is there, from the bundle under test, with its id as property and as {@code id()}. */
    private String registration(Map<String, Object> s) throws Exception {
        String id = get(s, "id");
        ServiceReference<?> ref = platformReference(id);
        Bundle under = bundleUnderTest(id);
        require(ref.getBundle().equals(under), "the " + id + " service comes from " + ref.getBundle().getSymbolicName() + ", not the bundle under test");
        ConfidentialPlatform p = platform(id);
        require(id.equals(p.id()), "id() is '" + p.id() + "' but the service property says '" + id + "'");
        require(p.initialRamState() != null, "initialRamState() is null");
        return id + " registered by " + under.getSymbolicName() + " " + under.getVersion();
    }

    private ModelledKvm sim() throws Exception {
        ServiceReference<?>[] refs = context.getServiceReferences(Kvm.class.getName(), "(" + Kvm.PROVIDER + "=sim)");
        require(refs != null, "no software KVM is registered");
        Object kvm = context.getService(refs[0]);
        require(kvm instanceof ModelledKvm, "the sim's Kvm is not a ModelledKvm");
        return (ModelledKvm) kvm;
    }

    /** Supported with a reason on its hardware, on every strategy's profile; unsupported with a reason elsewhere. */
    private String support(Map<String, Object> s) throws Exception {
        String id = get(s, "id");
        ConfidentialPlatform p = platform(id);
        ModelledKvm sim = sim();
        List<String> said = new ArrayList<>();
        for (String strategy : this.<List<String>>get(s, "strategies")) {
            String profile = strategy.equals("legacy") ? "7.3" : "inplace";
            ConfidentialPlatform.Support yes = p.support(sim.host(profile, get(s, "hardware")));
            require(yes.supported(), id + " says it is not supported on " + get(s, "hardware") + " (" + profile + "): " + yes.reason());
            require(yes.reason() != null && !yes.reason().isBlank(), "support on " + get(s, "hardware") + " gives no reason");
            said.add(profile + ": " + yes.reason());
        }
        for (String hw : this.<List<String>>get(s, "hardwareWithoutSupport")) {
            ConfidentialPlatform.Support no = p.support(sim.host("inplace", hw));
            require(!no.supported(), id + " says it is supported on " + hw + " (" + no.reason() + ")");
            require(no.reason() != null && !no.reason().isBlank(), "no support on " + hw + " gives no reason");
            said.add(hw + ": " + no.reason());
        }
        return String.join("; ", said);
    }

    /** The accepted spec makes a VM; each refusal names its JSON path, and creates nothing. */
    private String validation(Map<String, Object> s) throws Exception {
        Map<String, String> specs = get(s, "specs");
        String accepted = specs.values().iterator().next();
        String vm = manager.create(MachineSpec.parse(accepted, null));
        RunSummary never = manager.stop(vm);
        require(never.end() instanceof VmState.Stopped, "a created and stopped VM ended " + never.end());
        int before = manager.list().size();
        List<String> said = new ArrayList<>();
        for (List<String> r : this.<List<List<String>>>get(s, "refusals")) {
            try {
                manager.create(MachineSpec.parse(r.get(0), null));
                throw new Failed("a spec with a problem at " + r.get(1) + " was accepted: " + r.get(0));
            } catch (SpecException e) {
                List<String> paths = e.problems().stream().map(SpecProblem::path).toList();
                require(paths.contains(r.get(1)), "refused at " + paths + ", not at " + r.get(1) + ": " + e.getMessage());
                require(paths.stream().allMatch(p -> p.startsWith("$")), "a problem without a JSON path: " + paths);
                said.add(r.get(1));
            }
        }
        require(manager.list().size() == before, "a refused spec created a VM");
        return "refused at " + said;
    }

    /**
     * In each strategy: the VM launches, its guest runs to a normal end, converting (none refused), and the launch
     * digest the modelled firmware computed equals the one the platform computed ahead (both empty if it measures
     * nothing).
     */
    private String launchAndConversions(Map<String, Object> s) throws Exception {
        Map<String, String> specs = get(s, "specs");
        boolean converts = get(s, "converts");
        List<String> said = new ArrayList<>();
        for (String strategy : this.<List<String>>get(s, "strategies")) {
            MachineSpec spec = MachineSpec.parse(specs.get("run/" + strategy), null);
            String vm = manager.create(spec);
            manager.start(vm);
            RunSummary r = manager.awaitEnd(vm, WAIT);
            require(r.endedNormally(), strategy + ": the guest did not end normally: " + r.end() + "\n" + r.console());
            require(r.backend().startsWith(strategy), strategy + ": served by " + r.backend());
            long done = r.conversions().stream().mapToLong(RunSummary.ConversionCount::done).sum();
            long refused = r.conversions().stream().mapToLong(RunSummary.ConversionCount::refused).sum();
            require(refused == 0, strategy + ": conversions were refused: " + r.conversions());
            require(!converts || done > 0, strategy + ": the guest converted nothing");
            require(r.launchMeasurement().equalsIgnoreCase(r.expectedDigest()), strategy + ": the launch measured '"
                    + r.launchMeasurement() + "', not the expected '" + r.expectedDigest() + "'");
            // Where the modelled firmware computes the digest itself (SNP, TDX), it is the independent check.
            require(r.launchDigest().isEmpty() || r.launchDigest().equalsIgnoreCase(r.expectedDigest()), strategy
                    + ": the firmware's launch digest " + r.launchDigest() + " is not the expected " + r.expectedDigest());
            String ahead = measure(specs.get("run/" + strategy));
            require(ahead.equalsIgnoreCase(r.expectedDigest()), strategy + ": janus measure gives '" + ahead + "', the run expected '"
                    + r.expectedDigest() + "'");
            said.add(strategy + ": " + done + " conversions, measurement " + (r.expectedDigest().isEmpty() ? "none" : r.expectedDigest())
                    + (r.launchDigest().isEmpty() ? "" : " (the firmware's equal)"));
        }
        return String.join("; ", said);
    }

    /**
     * What {@code janus measure} prints for a spec (the machine's measure command, computed from the spec alone):
     * the digest in hex, or empty when the platform measures nothing.
     */
    @SuppressWarnings("unchecked")
    private String measure(String spec) throws Exception {
        ServiceReference<?>[] refs = context.getServiceReferences(java.util.function.Function.class.getName(), "(janus.command=measure)");
        require(refs != null, "the machine's measure command is not registered");
        java.util.function.Function<List<String>, String> measure = (java.util.function.Function<List<String>, String>) context.getService(refs[0]);
        Path file = Files.createTempFile("janus-tck", ".json");
        try {
            Files.writeString(file, spec);
            String out = measure.apply(List.of(file.toString()));
            String last = out.strip().lines().reduce((a, b) -> b).orElse("");
            return last.substring(last.lastIndexOf(' ') + 1);
        } catch (IllegalStateException measuresNothing) {
            return "";
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /**
     * Every call a launch makes on the registered software KVM (counted from one clean launch) fails in turn, at its
     * first, second, middle and last call, with each errno the kernel documents for it ({@link FaultPoints}): the VM
     * is refused naming the call and the errno, or runs (the fault absorbed, or not reached); either way nothing is
     * left: no file descriptor, memfd mapping or Janus thread more than before.
     */
    private String failures(Map<String, Object> s) throws Exception {
        String strategy = this.<List<String>>get(s, "strategies").get(0);
        String profile = strategy.equals("legacy") ? "7.3" : "inplace";
        String hardware = get(s, "hardware");
        String wanted = "(" + Kvm.PROFILE + "=" + profile + ")(" + Kvm.HARDWARE + "=" + hardware + ")";
        // The VM must run on the registered software KVM, the one whose faults this check injects: configure it to
        // the spec's profile and hardware unless it models them already, and put it back after.
        ServiceReference<?> registered = simReference(wanted, -1);
        Configuration sim = null;
        long configured = -1;
        if (registered == null) {
            sim = configurationAdmin.getConfiguration("org.janus.kvm.sim", "?");
            Dictionary<String, Object> props = new Hashtable<>();
            props.put("profile", profile);
            props.put("hardware", hardware);
            sim.update(props);
            registered = awaitSim(wanted, -1);
            configured = (Long) registered.getProperty("service.id");
        }
        try {
            ModelledKvm kvm = (ModelledKvm) context.getService(registered);
            MachineSpec parsed = MachineSpec.parse(this.<Map<String, String>>get(s, "specs").get("run/" + strategy), null);
            // Once, so that class loading and JNA's own files are the baseline, not a leak; and once the VM manager
            // has been handed the reconfigured sim (the registry shows it a moment before its listeners have).
            RunSummary warm = manager.stop(createOnceTheManagerSeesASim(parsed));
            require(warm.end() instanceof VmState.Stopped, "the VM could not even be created: " + warm.end());
            require(warm.kvm().contains("the registered software KVM"), "the VM did not run on the registered software KVM: " + warm.kvm());
            Leftovers before = Leftovers.afterThreadsEnd(Leftovers.now());
            // What a launch calls, and how often: one more clean launch, counted.
            Map<String, Long> calls = kvm.faultPointCalls();
            manager.stop(manager.create(parsed));
            Map<String, Long> made = new TreeMap<>();
            kvm.faultPointCalls().forEach((op, n) -> {
                long d = n - calls.getOrDefault(op, 0L);
                if (d > 0) made.put(op, d);
            });
            int refused = 0;
            int cases = 0;
            for (Map.Entry<String, Long> call : made.entrySet()) {
                String op = call.getKey();
                for (long position : FaultPoints.positions(call.getValue())) {
                    for (int errno : FaultPoints.errnos(op)) {
                        cases++;
                        String which = op + " #" + (position + 1) + " " + Errno.name(errno);
                        kvm.injectFault(op, errno, (int) position);
                        try {
                            String vm = manager.create(parsed);
                            manager.stop(vm);
                        } catch (MachineException | SpecException e) {
                            // Validation creates a probe VM of the platform's type: a fault there refuses the spec.
                            refused++;
                            require(e.getMessage() != null && e.getMessage().contains(op) && e.getMessage().contains(Errno.name(errno)),
                                    which + ": refused without naming the failed call: " + e.getMessage());
                        } finally {
                            kvm.clearFaults();
                        }
                        String left = before.leftSince(Leftovers.afterThreadsEnd(before));
                        require(left.isEmpty(), which + " left " + left);
                    }
                }
            }
            require(refused > 0, "no injected fault made a launch fail");
            return cases + " faults injected (each call a launch makes " + made + ", failed at its first, second, middle and last call"
                    + " with each errno the kernel documents for it); " + refused + " launches refused naming the call, nothing left behind after any";
        } finally {
            if (sim != null) {
                sim.delete();
                awaitSim("", configured);   // the default sim is back before the next check needs one
                manager.stop(createOnceTheManagerSeesASim(MachineSpec.parse(this.<Map<String, String>>get(s, "specs").get("run/" + strategy), null)));
            }
        }
    }

    /**
     * Creates the VM of {@code spec}, waiting while the VM manager has no software KVM: a sim reconfigured through
     * Config Admin is re-registered on Config Admin's thread, and the manager hears of it just after the registry shows
     * it. Any other refusal is the check's failure.
     */
    private String createOnceTheManagerSeesASim(MachineSpec spec) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                return manager.create(spec);
            } catch (SpecException e) {
                if (!e.getMessage().contains("no software KVM is registered") || System.nanoTime() > deadline) throw e;
                Thread.sleep(10);
            }
        }
    }

    /** The registered sim matching {@code filter} (an LDAP fragment) other than service {@code notId}, or null. */
    private ServiceReference<?> simReference(String filter, long notId) throws Exception {
        ServiceReference<?>[] refs = context.getServiceReferences(Kvm.class.getName(), "(&(" + Kvm.PROVIDER + "=sim)" + filter + ")");
        if (refs == null) return null;
        for (ServiceReference<?> r : refs) if (!Long.valueOf(notId).equals(r.getProperty("service.id"))) return r;
        return null;
    }

    private ServiceReference<?> awaitSim(String filter, long notId) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            ServiceReference<?> r = simReference(filter, notId);
            if (r != null) return r;
            require(System.nanoTime() < deadline, "the software KVM did not register as " + filter);
            Thread.sleep(10);
        }
    }

    /**
     * A long guest runs in each strategy while the platform bundle is updated to a newer build: the VM moves to the
     * new revision and converts on with nothing refused, and its end is the host's stop, not a failure.
     */
    private String update(Map<String, Object> s) throws Exception {
        String id = get(s, "id");
        Bundle bundle = bundleUnderTest(id);
        byte[] newer = get(s, "newerBuild");
        byte[] original = get(s, "originalBuild");
        String newerVersion = get(s, "newerVersion");
        boolean converts = get(s, "converts");
        List<String> said = new ArrayList<>();
        for (String strategy : this.<List<String>>get(s, "strategies")) {
            String vm = manager.create(MachineSpec.parse(this.<Map<String, String>>get(s, "specs").get("long/" + strategy), null));
            manager.start(vm);
            await(() -> progress(vm, converts) > 20, strategy + ": the long guest makes progress");
            bundle.update(new ByteArrayInputStream(newer));
            await(() -> newerVersion.equals(manager.status(vm).platform().version()) && manager.state(vm) instanceof VmState.Running,
                    strategy + ": the VM runs on the updated bundle " + newerVersion + " (it is " + manager.state(vm) + ")");
            long at = progress(vm, converts);
            await(() -> progress(vm, converts) > at + 20, strategy + ": the guest goes on after the update");
            VmStatus status = manager.status(vm);
            RunSummary r = manager.stop(vm);
            require(r.end() instanceof VmState.Stopped, strategy + ": the VM ended " + r.end() + "\n" + r.console());
            require(r.conversions().stream().allMatch(c -> c.refused() == 0), strategy + ": conversions refused: " + r.conversions());
            said.add(strategy + ": " + status.swaps() + " swap, " + at + " -> " + status.conversionsDone() + " conversions");
            bundle.update(new ByteArrayInputStream(original));
            await(() -> bundle.getState() == Bundle.ACTIVE, "the original build is back");
            platformReference(id);
        }
        return String.join("; ", said);
    }

    /** Conversions done, or (for a VM without private memory) exits handled: what a long guest makes. */
    private long progress(String vm, boolean converts) {
        VmStatus s = manager.status(vm);
        return converts ? s.conversionsDone() : s.vcpus().stream().mapToLong(VmStatus.Vcpu::exits).sum();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            require(System.nanoTime() < deadline, "not within " + WAIT.toSeconds() + " s: " + what);
            Thread.sleep(5);
        }
    }

    /** What a VM could leave behind: file descriptors, memfd mappings, Janus threads. */
    record Leftovers(Set<String> fds, long memfdMappings, Set<String> threads) {
        static Leftovers now() throws IOException {
            Set<String> fds;
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                fds = s.map(p -> {
                    try {
                        return p.getFileName() + " -> " + Files.readSymbolicLink(p);
                    } catch (IOException gone) {
                        return null;
                    }
                }).filter(f -> f != null && !f.contains("socket:") && !f.endsWith(".jar") && !f.contains("/proc/")
                        // the JVM's own container support reads cgroup files now and then
                        && !f.contains("/sys/fs/cgroup/")).collect(Collectors.toSet());
            }
            long maps;
            try (Stream<String> s = Files.lines(Path.of("/proc/self/maps"))) {
                maps = s.filter(l -> l.contains("/memfd:")).count();
            }
            Set<String> threads = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                    .filter(n -> n.startsWith("janus-vm") || n.contains("-vcpu")).collect(Collectors.toSet());
            return new Leftovers(fds, maps, threads);
        }

        /**
         * What is there now, once the Janus threads that were not there {@code before} have ended: a VM's teardown
         * thread completes its summary and then returns, so it may still be alive just after the VM has ended.
         */
        static Leftovers afterThreadsEnd(Leftovers before) throws IOException, InterruptedException {
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.isAlive() && !before.threads.contains(t.getName()) && (t.getName().startsWith("janus-vm") || t.getName().contains("-vcpu")))
                    t.join(WAIT.toMillis());
            }
            return now();
        }

        /** What {@code later} has that this does not, described; empty if nothing. */
        String leftSince(Leftovers later) {
            List<String> out = new ArrayList<>();
            Set<String> fds = new java.util.TreeSet<>(later.fds);
            fds.removeAll(this.fds);
            if (!fds.isEmpty()) out.add("file descriptors " + fds);
            if (later.memfdMappings > memfdMappings) out.add((later.memfdMappings - memfdMappings) + " memfd mappings");
            Set<String> threads = new java.util.TreeSet<>(later.threads);
            threads.removeAll(this.threads);
            if (!threads.isEmpty()) out.add("threads " + threads);
            return String.join(", ", out);
        }
    }
}
