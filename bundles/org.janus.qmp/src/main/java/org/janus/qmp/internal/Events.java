package org.janus.qmp.internal;

import com.google.gson.JsonObject;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.janus.machine.VmEvent;
import org.janus.machine.VmListener;
import org.janus.machine.VmState;

/**
 * Turns the machine's VM events into QMP events and hands them to every connection. QEMU's events where one
 * applies ({@code STOP} when a VM pauses for any reason, {@code RESUME} when it starts or resumes, {@code SHUTDOWN}
 * when it ends), each with the VM's id in the downstream member {@code __org.janus_vm}; {@code __org.janus_SWAPPED}
 * when a platform or memory backend was replaced under a VM.
 *
 * <p>The machine calls listeners on the thread that changed the VM, holding the VM's lock: this listener only
 * builds the message from the event and offers the bytes to each connection's bounded queue, never blocking and
 * never calling back into the manager.
 */
final class Events implements VmListener {
    private final Set<Consumer<byte[]>> sinks = new CopyOnWriteArraySet<>();
    private final Predicate<String> quitAsked;

    /** @param quitAsked whether QMP's {@code quit} ended a VM (its SHUTDOWN then says host-qmp-quit) */
    Events(Predicate<String> quitAsked) { this.quitAsked = quitAsked; }

    void add(Consumer<byte[]> sink) { sinks.add(sink); }

    void remove(Consumer<byte[]> sink) { sinks.remove(sink); }

    @Override public void event(VmEvent event) {
        JsonObject message = message(event);
        if (message == null) return;
        byte[] wire = Json.wire(message);
        for (Consumer<byte[]> s : sinks) s.accept(wire);
    }

    /** The QMP event for a VM event, or null when QMP has none for it. */
    JsonObject message(VmEvent event) {
        String vm = event.vm();
        if (event instanceof VmEvent.StateChanged c) {
            VmState to = c.to();
            if (to instanceof VmState.Running) return event("RESUME", Json.object(Commands.VM_MEMBER, vm));
            if (to instanceof VmState.Paused p)
                return event("STOP", Json.object(Commands.VM_MEMBER, vm, Commands.PREFIX + "reason", p.reason()));
            if (to.isFinal()) {
                Cause cause = cause(to, quitAsked.test(vm));
                String reason = to instanceof VmState.Stopped s ? s.reason() : ((VmState.Failed) to).reason();
                return event("SHUTDOWN", Json.object("guest", cause.guest(), "reason", cause.reason(), Commands.VM_MEMBER, vm,
                        Commands.PREFIX + "reason", reason));
            }
            return null;
        }
        if (event instanceof VmEvent.Swapped s) {
            return event(Commands.PREFIX + "SWAPPED", Json.object("vm", vm, "kind", s.kind().word(), "from", Commands.service(s.from()),
                    "to", Commands.service(s.to()), "paused-ns", s.pausedNanos(), "exits-to-park", s.exitsToPark()));
        }
        return null;
    }

    private static JsonObject event(String name, JsonObject data) {
        Instant now = Instant.now();
        return Json.object("event", name, "data", data,
                "timestamp", Json.object("seconds", now.getEpochSecond(), "microseconds", now.getNano() / 1000));
    }

    /** SHUTDOWN's members: whether the guest asked for it, and QEMU's ShutdownCause. */
    record Cause(boolean guest, String reason) {}

    /**
     * Why a VM ended, in QEMU's terms. The machine says it in a sentence ({@link VmState.Stopped#reason()}), so the
     * host's own stops are told apart by their wording; whatever else stopped a VM came from the guest.
     */
    static Cause cause(VmState end, boolean quit) {
        if (quit) return new Cause(false, "host-qmp-quit");
        if (end instanceof VmState.Failed) return new Cause(false, "host-error");
        String why = ((VmState.Stopped) end).reason();
        if (why.startsWith("stopped by the host")) return new Cause(false, "host-ui");
        if (why.startsWith("the VM manager is going away")) return new Cause(false, "host-signal");
        if (why.contains("went away") || why.contains("conversion was refused")) return new Cause(false, "host-error");
        if (why.contains("asked for a reset") || why.contains("KVM_EXIT_SHUTDOWN")) return new Cause(true, "guest-reset");
        return new Cause(true, "guest-shutdown");
    }
}
