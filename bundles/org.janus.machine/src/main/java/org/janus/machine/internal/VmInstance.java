package org.janus.machine.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.machine.MachineException;
import org.janus.machine.RunSummary;
import org.janus.machine.VmState;
import org.janus.memory.api.GuestRam;
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
    private final Console console = new Console();
    private final ExitCounters exits = new ExitCounters();
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final CompletableFuture<RunSummary> ended = new CompletableFuture<>();
    private VmState state = new VmState.Created();
    private VmEnd end;
    private int halted;
    private long startedNanos;
    private long endedNanos;

    /** Starts the vCPU threads, parked. On failure, releases the assembly and throws. */
    VmInstance(String id, Assembly assembly) {
        this.id = id;
        this.assembly = assembly;
        try {
            ExitDispatcher dispatcher = new ExitDispatcher(assembly.conversions, console, exits,
                    (vcpu, exit) -> assembly.platform.onExit(assembly.context, vcpu, exit));
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

    String name() { return assembly.name; }

    String platform() { return assembly.platform.id(); }

    synchronized VmState state() { return state; }

    synchronized void start() {
        require(VmState.Created.class, "start");
        startedNanos = System.nanoTime();
        state = new VmState.Running();
        runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
    }

    synchronized void pause() {
        require(VmState.Running.class, "pause");
        runners.forEach(r -> r.send(VcpuRunner.Command.PAUSE));
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PARK_MILLIS);
        while (end == null && !runners.stream().allMatch(r -> r.phase().still())) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                String busy = String.join(", ", runners.stream().filter(r -> !r.phase().still()).map(r -> "vCPU " + r.id()).toList());
                throw new IllegalStateException(id + ": " + busy + " did not park within " + PARK_MILLIS + " ms (still inside KVM_RUN)");
            }
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(id + ": interrupted while pausing");
            }
        }
        if (end == null) state = new VmState.Paused();
    }

    synchronized void resume() {
        require(VmState.Paused.class, "resume");
        state = new VmState.Running();
        runners.forEach(r -> r.send(VcpuRunner.Command.RUN));
    }

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
            notifyAll();
        }
        LOG.log(System.Logger.Level.INFO, id + " (" + assembly.name + ") ends: " + e.reason());
        runners.forEach(r -> r.send(VcpuRunner.Command.STOP));
        Thread teardown = new Thread(this::finish, "janus-" + id + "-teardown");
        teardown.setDaemon(true);
        teardown.start();
    }

    /** Waits for the vCPU threads (closing their fds if they do not leave), takes the summary, releases all. */
    private void finish() {
        try {
            if (!joinAll(LEAVE_MILLIS)) {
                // A vCPU still inside KVM_RUN: on the software KVM closing its fd makes KVM_RUN fail at once.
                LOG.log(System.Logger.Level.WARNING, id + ": vCPU threads still running after " + LEAVE_MILLIS + " ms; closing their vCPUs");
                assembly.closeVcpus();
                joinAll(LEAVE_MILLIS);
            }
            RunSummary summary = summary();
            List<String> leftovers = assembly.release();
            leftovers.forEach(l -> LOG.log(System.Logger.Level.ERROR, id + ": not released: " + l));
            synchronized (this) {
                state = end.state();
                notifyAll();
            }
            ended.complete(summary);
        } catch (RuntimeException | Error t) {
            synchronized (this) {
                state = new VmState.Failed("teardown failed: " + t);
            }
            assembly.release();
            ended.completeExceptionally(t);
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
        HexFormat hex = HexFormat.of();
        return new RunSummary(id, assembly.name, assembly.plan.kvm().reason(), assembly.platform.id(),
                assembly.backend.id() + " (" + assembly.plan.backendReason() + ")", e.state(), e.normal(), e.exitCode(),
                Duration.ofNanos(ran), launch, hex.formatHex(assembly.firmwareDigest), hex.formatHex(assembly.expectedDigest), vcpus, assembly.conversions.counters().snapshot(), memory, console.text());
    }
}
