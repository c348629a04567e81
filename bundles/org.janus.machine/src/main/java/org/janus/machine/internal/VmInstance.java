package org.janus.machine.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.janus.kvm.api.KvmVcpu;
import org.janus.machine.MachineException;
import org.janus.machine.RunSummary;
import org.janus.machine.ServiceKind;
import org.janus.machine.VmEvent;
import org.janus.machine.VmState;
import org.janus.machine.VmStatus;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.memory.api.MemoryFigures;

/**
 * One VM from its assembly to its end: the vCPU threads, pause and resume, and the end, after which everything
 * the assembly holds is released and the {@link RunSummary} kept. The first end reported wins (a halt of the last
 * vCPU, a shutdown, a failure, a stop); the teardown then runs on a thread of its own.
 */
final class VmInstance implements VcpuRunner.Owner {
    private static final System.Logger LOG = System.getLogger(VmInstance.class.getName());
    /** How long vCPU threads get to leave by themselves before their vCPU fds are closed under them. */
    static final long LEAVE_MILLIS = 5_000;
    /** How long pause waits for every vCPU to park. */
    static final long PARK_MILLIS = 10_000;

    private final String id;
    private final Assembly assembly;
    private final Console console;
    private final ExitCounters exits = new ExitCounters();
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final CompletableFuture<RunSummary> ended = new CompletableFuture<>();
    private final Consumer<VmEvent> events;
    private VmState state = new VmState.Created();
    private VmEnd end;
    private int halted;
    private long startedNanos;
    private long endedNanos;
    /** The origin of the platform and the backend bound now (kept here: a gone service is no longer in the directory). */
    private volatile ServiceDirectory.Origin platformOrigin;
    private volatile ServiceDirectory.Origin backendOrigin;
    /** The services the VM waits for, with the state it had before the first went away. */
    private final Map<ServiceKind, Waiting> waiting = new EnumMap<>(ServiceKind.class);
    private VmState beforeWaiting;
    private int swaps;

    /** A service kind the VM waits for: its id, since when, and the timer that stops the VM at the grace's end. */
    private record Waiting(String id, String why, long sinceNanos, long graceNanos, ScheduledFuture<?> timer) {}

    /** What a swap took: how long the vCPUs were parked, and how many exits were handled on the way to parking. */
    record SwapPause(long pausedNanos, long exitsToPark) {}

    /** Starts the vCPU threads, parked. On failure, releases the assembly and throws. */
    VmInstance(String id, Assembly assembly, ServiceDirectory.Origin platformOrigin, ServiceDirectory.Origin backendOrigin,
               Consumer<VmEvent> events) {
        this.id = id;
        this.assembly = assembly;
        this.platformOrigin = platformOrigin;
        this.backendOrigin = backendOrigin;
        this.events = events;
        this.console = assembly.console;
        try {
            // The platform is read at each exit: a swap replaces it while every vCPU is parked between two exits.
            ExitDispatcher dispatcher = new ExitDispatcher(assembly.conversions, console, exits,
                    (vcpu, exit) -> assembly.platform.onExit(assembly.context, vcpu, exit), assembly.devices);
            for (KvmVcpu vcpu : assembly.vcpus) {
                VcpuRunner r = new VcpuRunner(vcpu, dispatcher, this);
                Thread t = new Thread(r, "janus-" + id + "-vcpu" + vcpu.id());
                t.setDaemon(true);
                runners.add(r);
                threads.add(t);
            }
            for (Thread t : threads) t.start();
        } catch (RuntimeException | Error e) {
            runners.forEach(r -> r.send(VcpuRunner.Command.STOP));
            joinAll(LEAVE_MILLIS);
            List<String> leftovers = assembly.release();
            MachineException failure = new MachineException(assembly.name, MachineException.Step.START_VCPUS, String.valueOf(e.getMessage()), e);
            leftovers.forEach(l -> failure.addSuppressed(new IllegalStateException("not released: " + l)));
            throw failure;
        }
    }

    String id() { return id; }

    /** What the VM is built from (tests look at its KVM VM). */
    Assembly assembly() { return assembly; }

    String name() { return assembly.name; }

    /** The platform id of the spec (also while the VM waits for its platform to come back). */
    String platform() { return assembly.plan.spec().platform().id(); }

    /** The backend id chosen for the VM. */
    String backendId() { return assembly.plan.backend(); }

    synchronized VmState state() { return state; }

    /** The service of {@code kind} bound now (null while waiting for one), and where it comes from. */
    Object bound(ServiceKind kind) { return kind == ServiceKind.PLATFORM ? assembly.platform : assembly.backend; }

    ServiceDirectory.Origin origin(ServiceKind kind) { return kind == ServiceKind.PLATFORM ? platformOrigin : backendOrigin; }

    synchronized boolean isWaitingFor(ServiceKind kind) { return waiting.containsKey(kind); }

    synchronized int swaps() { return swaps; }

    /** Changes the state and tells the listeners (while holding the lock, so that they hear changes in order). */
    private void transition(VmState to) {
        VmState from = state;
        state = to;
        notifyAll();
        if (!from.equals(to)) {
            try {
                events.accept(new VmEvent.StateChanged(id, from, to));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, id + ": a VM listener failed: " + e);
            }
        }
    }

    synchronized void start() {
        require(VmState.Created.class, "start");
        startedNanos = System.nanoTime();
        transition(new VmState.Running());
        runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
    }

    synchronized void pause() {
        require(VmState.Running.class, "pause");
        park();
        if (end == null) transition(new VmState.Paused(VmState.Paused.BY_HOST));
    }

    synchronized void resume() {
        if (end == null && !waiting.isEmpty())
            throw new IllegalStateException(id + " is " + state + "; it resumes by itself when that ends");
        require(VmState.Paused.class, "resume");
        transition(new VmState.Running());
        runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
    }

    /**
     * Parks every vCPU at its next exit boundary (a vCPU between two runs, or halted) and returns once all are
     * parked, or the VM has ended. Holding the lock; waiting releases it, so vCPU threads can report.
     *
     * @throws IllegalStateException when a vCPU does not park within {@link #PARK_MILLIS}; the parked ones run again
     */
    private void park() {
        runners.forEach(r -> r.send(VcpuRunner.Command.PAUSE));
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PARK_MILLIS);
        while (end == null && !runners.stream().allMatch(r -> r.phase().still())) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                String busy = String.join(", ", runners.stream().filter(r -> !r.phase().still()).map(r -> "vCPU " + r.id()).toList());
                if (state instanceof VmState.Running) runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
                throw new IllegalStateException(id + ": " + busy + " did not park within " + PARK_MILLIS + " ms (still inside KVM_RUN)");
            }
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (state instanceof VmState.Running) runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
                throw new IllegalStateException(id + ": interrupted while parking its vCPUs");
            }
        }
    }

    // ---- hot swap ----

    /**
     * Why {@code next} cannot serve this VM, or null if it can. Asks the service itself (spec, host, VM); a service
     * that throws while asked cannot.
     */
    String refusal(ServiceKind kind, Object next) {
        try {
            if (kind == ServiceKind.PLATFORM) {
                ConfidentialPlatform p = (ConfidentialPlatform) next;
                if (!p.id().equals(platform())) return "platform " + p.id() + " cannot take over a " + platform() + " VM";
                List<ConfidentialPlatform.Problem> problems = p.validate(assembly.plan.platformSpec());
                if (!problems.isEmpty())
                    return "platform " + p.id() + " refuses the VM's spec: " + String.join("; ", problems.stream().map(Object::toString).toList());
                ConfidentialPlatform.Support support = p.support(assembly.kvm);
                if (!support.supported()) return "platform " + p.id() + " does not support this host: " + support.reason();
            } else {
                MemoryBackend b = (MemoryBackend) next;
                if (!b.id().equals(backendId())) return "backend " + b.id() + " cannot take over RAM of the " + backendId() + " backend";
                MemoryBackend.Suitability s = b.suitability(assembly.vm);
                if (!s.usable()) return "backend " + b.id() + " cannot serve this VM: " + s.reason();
            }
            return null;
        } catch (RuntimeException e) {
            return kind.word() + " " + next + " failed while asked whether it can take the VM over: " + e;
        }
    }

    /**
     * Replaces the service of {@code kind} the VM is bound to by {@code next}, which takes over the VM's state: its
     * vCPUs park at their next exit boundary, the VM rebinds and resumes as it was (running, paused or created).
     * If the VM waited for a service of this kind, it stops waiting.
     *
     * @throws IllegalStateException when the VM has ended, its vCPUs do not park, or {@code next} cannot take it
     *         over; the VM is then as it was, bound to the old service
     */
    synchronized SwapPause rebind(ServiceKind kind, Object next, ServiceDirectory.Origin origin) {
        if (end != null) throw new IllegalStateException(id + " has ended (" + end.reason() + ")");
        String refusal = refusal(kind, next);
        if (refusal != null) throw new IllegalStateException(id + ": " + refusal);
        long t0 = System.nanoTime();
        long exitsBefore = exits.total();
        VmState before = state;
        boolean running = before instanceof VmState.Running;
        if (running) park();
        long exitsToPark = exits.total() - exitsBefore;
        if (end != null) throw new IllegalStateException(id + " ended while its vCPUs were parking (" + end.reason() + ")");
        // Listeners (a QMP client) see the swap as a short pause: STOP, the swap, RESUME.
        if (running) transition(new VmState.Paused("replacing " + kind.word() + " " + describe(kind)));
        try {
            bind(kind, next, origin);
        } finally {
            if (running) {
                runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
                transition(before);
            }
        }
        swaps++;
        assembly.context.log(kind.word() + " " + describe(kind) + " now serves the VM (" + (System.nanoTime() - t0) / 1000 + " us parked)");
        return new SwapPause(System.nanoTime() - t0, exitsToPark);
    }

    /**
     * Binds the VM to {@code next}. Vcpus are parked (or were never running). A backend takes over every region's
     * RAM under the conversion lock, so a conversion in flight completes on the old code first; if any region cannot
     * be taken over, none is.
     */
    private void bind(ServiceKind kind, Object next, ServiceDirectory.Origin origin) {
        if (kind == ServiceKind.PLATFORM) {
            assembly.platform = (ConfidentialPlatform) next;
            platformOrigin = origin;
            return;
        }
        MemoryBackend backend = (MemoryBackend) next;
        synchronized (assembly.conversions) {
            List<GuestRam> adopted = new ArrayList<>();
            try {
                for (GuestRam old : assembly.rams) adopted.add(backend.adopt(assembly.kvm, assembly.vm, old.handOver()));
            } catch (RuntimeException e) {
                adopted.forEach(GuestRam::relinquish);
                throw new IllegalStateException(id + ": backend " + backend.id() + " could not take over the RAM: " + e.getMessage(), e);
            }
            assembly.rams.forEach(GuestRam::relinquish);
            assembly.replaceRams(adopted);
            assembly.backend = backend;
            backendOrigin = origin;
        }
    }

    private String describe(ServiceKind kind) {
        ServiceDirectory.Origin o = origin(kind);
        String name = kind == ServiceKind.PLATFORM ? platform() : backendId();
        return o.bundle().isEmpty() ? name : name + " (" + o.bundle() + " " + o.version() + ")";
    }

    /**
     * The service of {@code kind} the VM is bound to has gone with no replacement: its vCPUs park and the VM waits,
     * paused and saying so, for up to {@code graceNanos}; then it stops with that reason. Returns once parked, so
     * that no call into the departing service is in flight.
     */
    synchronized void waitFor(ServiceKind kind, String why, long graceNanos, ScheduledExecutorService timers) {
        if (end != null || waiting.containsKey(kind)) return;
        if (waiting.isEmpty()) beforeWaiting = state;
        if (state instanceof VmState.Running) {
            try {
                park();
            } catch (IllegalStateException e) {
                // A vCPU stuck inside KVM_RUN would call the departing service at its next exit: stop the VM instead.
                end(VmEnd.failed(why + ", and " + e.getMessage()));
                return;
            }
        }
        if (end != null) return;
        if (kind == ServiceKind.PLATFORM) assembly.platform = null;
        ScheduledFuture<?> timer = timers.schedule(() -> graceOver(kind), graceNanos, TimeUnit.NANOSECONDS);
        waiting.put(kind, new Waiting(kind == ServiceKind.PLATFORM ? platform() : backendId(), why, System.nanoTime(), graceNanos, timer));
        String reason = why + "; waiting up to " + duration(graceNanos) + " for a replacement";
        assembly.context.log(reason);
        transition(new VmState.Paused(reason));
    }

    /** {@code 30 s}, or {@code 200 ms} for what is not whole seconds. */
    static String duration(long nanos) {
        long ms = TimeUnit.NANOSECONDS.toMillis(nanos);
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    private void graceOver(ServiceKind kind) {
        Waiting w;
        synchronized (this) {
            w = waiting.get(kind);
            if (w == null || end != null) return;
        }
        end(VmEnd.of(VmEnd.Kind.HOST_STOP, w.why() + "; no replacement came within " + duration(w.graceNanos())));
    }

    /**
     * A service of {@code kind} arrived while the VM waits for one: it takes the VM over if it can (and the VM goes
     * back to the state it had, once it waits for nothing else), else the VM stays paused and says why.
     *
     * @return the pause, from the service's departure to now, when it took over; empty when it could not
     */
    synchronized Optional<Long> arrived(ServiceKind kind, Object next, ServiceDirectory.Origin origin) {
        Waiting w = waiting.get(kind);
        if (w == null || end != null) return Optional.empty();
        String refusal = refusal(kind, next);
        if (refusal == null) {
            try {
                bind(kind, next, origin);
            } catch (IllegalStateException e) {
                refusal = e.getMessage();
            }
        }
        if (refusal != null) {
            String reason = w.why() + "; " + refusal + "; still waiting for a replacement";
            assembly.context.log(reason);
            transition(new VmState.Paused(reason));
            return Optional.empty();
        }
        w.timer().cancel(false);
        waiting.remove(kind);
        swaps++;
        long paused = System.nanoTime() - w.sinceNanos();
        assembly.context.log(kind.word() + " " + describe(kind) + " took the VM over after " + paused / 1_000_000 + " ms");
        if (waiting.isEmpty()) {
            VmState back = beforeWaiting;
            if (back instanceof VmState.Running) runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
            transition(back);
        } else {
            Waiting other = waiting.values().iterator().next();
            transition(new VmState.Paused(other.why() + "; waiting for a replacement"));
        }
        return Optional.of(paused);
    }

    /** Per-vCPU figures now, for {@link org.janus.machine.VmStatus}. */
    List<VmStatus.Vcpu> vcpuStatus() {
        List<VmStatus.Vcpu> out = new ArrayList<>();
        for (int i = 0; i < runners.size(); i++) {
            VcpuRunner r = runners.get(i);
            out.add(new VmStatus.Vcpu(r.id(), threads.get(i).getId(), r.phase().name().toLowerCase(java.util.Locale.ROOT), exits.total(r.id())));
        }
        return out;
    }

    /** How long it has run: from its start to now, or to its end. */
    synchronized Duration ran() {
        if (startedNanos == 0) return Duration.ZERO;
        return Duration.ofNanos((end != null ? endedNanos : System.nanoTime()) - startedNanos);
    }

    /** The RAM regions' sizes, private bytes and runs, read under the conversion lock (a swap may be replacing them). */
    <T> T withRam(java.util.function.Function<List<GuestRam>, T> read) {
        synchronized (assembly.conversions) {
            return read.apply(List.copyOf(assembly.rams));
        }
    }

    long ramBytes() { return assembly.plan.spec().memory().ram().stream().mapToLong(org.janus.machine.MachineSpec.Region::size).sum(); }

    List<org.janus.machine.RunSummary.ConversionCount> conversionCounts() { return assembly.conversions.counters().snapshot(); }

    List<String> log() { return assembly.context.logLines(); }

    /** Ends the VM (if it has not ended) and waits for its teardown. */
    RunSummary stop(String reason) {
        end(VmEnd.of(VmEnd.Kind.HOST_STOP, reason));
        try {
            return ended.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(id + ": interrupted while stopping", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(id + ": teardown failed: " + e.getCause(), e.getCause());
        }
    }

    RunSummary awaitEnd(Duration timeout) throws TimeoutException, InterruptedException {
        try {
            return ended.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(id + ": teardown failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new TimeoutException(id + " (" + assembly.name + ") has not ended after " + timeout.toMillis() + " ms; it is " + state());
        }
    }

    private void require(Class<? extends VmState> wanted, String action) {
        if (end != null) throw new IllegalStateException(id + " has ended (" + end.reason() + "); it cannot " + action);
        if (!wanted.isInstance(state))
            throw new IllegalStateException(id + " is " + state + "; " + action + " needs " + wanted.getSimpleName().toUpperCase());
    }

    // ---- reports from the vCPU threads ----

    @Override public synchronized void phaseChanged(VcpuRunner runner, VcpuRunner.Phase phase) { notifyAll(); }

    @Override public void halted(VcpuRunner runner) {
        boolean all;
        synchronized (this) {
            halted++;
            all = halted == runners.size();
        }
        if (all) end(VmEnd.of(VmEnd.Kind.HALTED, "every vCPU halted (" + runners.size() + " of " + runners.size() + ")"));
    }

    @Override public void end(VmEnd e) {
        synchronized (this) {
            if (end != null) return;
            end = e;
            endedNanos = System.nanoTime();
            waiting.values().forEach(w -> w.timer().cancel(false));
            waiting.clear();
            notifyAll();
        }
        LOG.log(System.Logger.Level.INFO, id + " (" + assembly.name + ") ends: " + e.reason());
        runners.forEach(r -> r.send(VcpuRunner.Command.STOP));
        Thread teardown = new Thread(this::finish, "janus-" + id + "-teardown");
        teardown.setDaemon(true);
        teardown.start();
    }

    /**
     * Waits for the vCPU threads, kicking them again while they stay inside KVM_RUN, then takes the summary and
     * releases everything. A vCPU thread that never leaves keeps everything it could touch: its memory, memslots
     * and fds are not released under it (on the real kernel a guest would run on unmapped memory), and the VM fails
     * saying so.
     */
    private void finish() {
        try {
            if (!joinKicking(LEAVE_MILLIS)) {
                // On the software KVM a closed vCPU fd makes KVM_RUN fail at once; the real kernel holds the file.
                LOG.log(System.Logger.Level.WARNING, id + ": vCPU threads still running after " + LEAVE_MILLIS + " ms of kicks; closing their vCPUs");
                assembly.closeVcpus();
                if (!joinKicking(LEAVE_MILLIS)) {
                    String stuck = String.join(", ", threads.stream().filter(Thread::isAlive).map(Thread::getName).toList());
                    String why = "the vCPU threads " + stuck + " did not leave KVM_RUN; their memory and fds are kept, not released under them";
                    LOG.log(System.Logger.Level.ERROR, id + ": " + why);
                    RunSummary summary = summary();
                    synchronized (this) {
                        transition(new VmState.Failed(why));
                    }
                    ended.complete(summary);
                    return;
                }
            }
            RunSummary summary = summary();
            List<String> leftovers = assembly.release();
            leftovers.forEach(l -> LOG.log(System.Logger.Level.ERROR, id + ": not released: " + l));
            synchronized (this) {
                transition(end.state());
            }
            ended.complete(summary);
        } catch (RuntimeException | Error t) {
            synchronized (this) {
                transition(new VmState.Failed("teardown failed: " + t));
            }
            assembly.release();
            ended.completeExceptionally(t);
        }
    }

    /** Joins the vCPU threads within {@code millis}, kicking those still alive every 50 ms (a kick may race an exit). */
    private boolean joinKicking(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (true) {
            if (joinAll(Math.min(50, Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))))) return true;
            if (System.nanoTime() >= deadline) return false;
            for (int i = 0; i < threads.size(); i++) {
                if (threads.get(i).isAlive()) runners.get(i).send(VcpuRunner.Command.STOP);
            }
        }
    }

    /** Joins every vCPU thread within one deadline; whether all left. */
    private boolean joinAll(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (Thread t : threads) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            try {
                if (left > 0) t.join(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return threads.stream().noneMatch(Thread::isAlive);
    }

    private RunSummary summary() {
        List<RunSummary.VcpuSummary> vcpus = new ArrayList<>();
        for (VcpuRunner r : runners) vcpus.add(new RunSummary.VcpuSummary(r.id(), r.ending(), exits.of(r.id())));
        List<RunSummary.RegionFigures> memory = new ArrayList<>();
        for (GuestRam ram : assembly.rams) {
            MemoryFigures f;
            try {
                f = ram.figures();
            } catch (RuntimeException e) {
                f = new MemoryFigures(ram.region().size(), -1, -1, -1, -1, -1);
            }
            memory.add(new RunSummary.RegionFigures(ram.region().name(), ram.region().gpa(), ram.backend(), f));
        }
        VmEnd e;
        long ran;
        synchronized (this) {
            e = end;
            ran = startedNanos == 0 ? 0 : endedNanos - startedNanos;
        }
        String launch = assembly.launch == null ? "" : assembly.launch.summary();
        String launchMeasurement = assembly.launch == null ? "" : assembly.launch.measurementHex();
        HexFormat hex = HexFormat.of();
        return new RunSummary(id, assembly.name, assembly.plan.kvm().reason(), platform(),
                backendId() + " (" + assembly.plan.backendReason() + ")", e.state(), e.normal(), e.exitCode(),
                Duration.ofNanos(ran), launch, launchMeasurement, hex.formatHex(assembly.firmwareDigest), hex.formatHex(assembly.expectedDigest), vcpus, assembly.conversions.counters().snapshot(), memory,
                (assembly.devices == null ? "" : assembly.devices.consoleNote()) + console.text(), e.ending());
    }
}
