package org.janus.machine.internal;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.VcpuExit;

/**
 * The thread of one vCPU: a state machine fed by messages ({@link Command}), which parks only between two runs.
 * It starts parked. While running it looks at its mailbox before each KVM_RUN; a message sent while it is inside
 * KVM_RUN comes with a kick ({@code immediate_exit}), so that KVM_RUN returns EINTR (at once if it has not entered
 * the guest yet) and the message is read; a vCPU inside the guest is kicked out with a signal to its thread
 * ({@link org.janus.kvm.api.KvmVcpu#kick()}, QEMU's SIG_IPI), so that even a guest that spins without exits parks.
 */
final class VcpuRunner implements Runnable {
    /** Messages to the vCPU thread. */
    enum Command { RUN, PAUSE, STOP }

    /** What the thread is doing. */
    enum Phase {
        PARKED, RUNNING, HALTED, EXITED;

        boolean still() { return this != RUNNING; }
    }

    /** What the vCPU thread reports to its VM. */
    interface Owner {
        void phaseChanged(VcpuRunner runner, Phase phase);

        void halted(VcpuRunner runner);

        void end(VmEnd end);
    }

    private final KvmVcpu vcpu;
    private final ExitDispatcher dispatcher;
    private final Owner owner;
    private final BlockingQueue<Command> mailbox = new LinkedBlockingQueue<>();
    private volatile Phase phase = Phase.PARKED;
    private volatile String ending = "not started";

    VcpuRunner(KvmVcpu vcpu, ExitDispatcher dispatcher, Owner owner) {
        this.vcpu = vcpu;
        this.dispatcher = dispatcher;
        this.owner = owner;
    }

    int id() { return vcpu.id(); }

    Phase phase() { return phase; }

    /** How the thread ended: {@code halted}, {@code stopped}, {@code failed: ...}. */
    String ending() { return ending; }

    /** Queues a message and kicks the vCPU out of KVM_RUN; the thread acts on it at its next look. */
    void send(Command c) {
        mailbox.add(c);
        // After the add: a thread that clears the kick and then finds an empty mailbox cannot miss this message.
        try {
            vcpu.kick();
        } catch (RuntimeException closed) {
            // the vCPU fd is gone: the thread is leaving anyway
        }
    }

    @Override public void run() {
        try {
            loop();
        } catch (InterruptedException e) {
            ending = "interrupted";
        } catch (RuntimeException | Error e) {
            ending = "failed: " + e;
            owner.end(VmEnd.failed("vCPU " + id() + ": the vCPU thread failed: " + e));
        } finally {
            setPhase(Phase.EXITED);
        }
    }

    private void loop() throws InterruptedException {
        while (true) {
            if (phase == Phase.PARKED) {
                Command c = mailbox.take();
                if (c == Command.STOP) {
                    ending = "stopped";
                    return;
                }
                if (c == Command.RUN) setPhase(Phase.RUNNING);
                continue;
            }
            // Clear the kick before looking: a message queued after this look kicks again.
            vcpu.setImmediateExit(false);
            Command c = mailbox.poll();
            if (c != null) {
                if (c == Command.STOP) {
                    ending = "stopped";
                    return;
                }
                if (c == Command.PAUSE) setPhase(Phase.PARKED);
                continue;
            }
            VcpuExit exit;
            try {
                exit = vcpu.run();
            } catch (KvmException e) {
                ending = "failed: " + e.getMessage();
                owner.end(VmEnd.failed("vCPU " + id() + ": " + e.getMessage()));
                return;
            }
            ExitDecision d = dispatcher.dispatch(vcpu, exit);
            if (d instanceof ExitDecision.Resume r) {
                r.answer().applyTo(vcpu);
            } else if (d instanceof ExitDecision.Halted) {
                ending = "halted";
                setPhase(Phase.HALTED);
                owner.halted(this);
                return;
            } else if (d instanceof ExitDecision.End e) {
                ending = e.end().kind() == VmEnd.Kind.FAILED ? "failed" : "ended the VM";
                owner.end(e.end());
                return;
            }
            // CheckMailbox: the loop looks at the mailbox next.
        }
    }

    private void setPhase(Phase p) {
        phase = p;
        owner.phaseChanged(this, p);
    }
}
