package org.janus.qmp.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.google.gson.JsonObject;
import org.janus.machine.VmEvent;
import org.janus.machine.VmState;
import org.junit.jupiter.api.Test;

/** How VM events become QMP events, and how an end becomes SHUTDOWN's guest and reason. */
class EventsTest {
    private final Events events = new Events(vm -> vm.equals("vm-quit"));

    private JsonObject message(String vm, VmState from, VmState to) { return events.message(new VmEvent.StateChanged(vm, from, to)); }

    @Test
    void stateChangesAreStopResumeShutdown() {
        assertEquals("RESUME", message("vm-1", new VmState.Created(), new VmState.Running()).get("event").getAsString());
        JsonObject stop = message("vm-1", new VmState.Running(), new VmState.Paused(null));
        assertEquals("STOP", stop.get("event").getAsString());
        assertEquals("paused by the host", stop.getAsJsonObject("data").get("__org.janus_reason").getAsString());
        JsonObject shutdown = message("vm-quit", new VmState.Running(), new VmState.Stopped("stopped by the host"));
        assertEquals(Json.object("guest", false, "reason", "host-qmp-quit", "__org.janus_vm", "vm-quit", "__org.janus_reason",
                "stopped by the host"), shutdown.get("data"));
    }

    @Test
    void endsMapToQemusShutdownCauses() {
        assertEquals(new Events.Cause(false, "host-qmp-quit"), Events.cause(new VmState.Stopped("every vCPU halted (2 of 2)"), true));
        assertEquals(new Events.Cause(true, "guest-shutdown"), Events.cause(new VmState.Stopped("every vCPU halted (2 of 2)"), false));
        assertEquals(new Events.Cause(true, "guest-shutdown"),
                Events.cause(new VmState.Stopped("the guest wrote exit code 0 to port 0xf4"), false));
        assertEquals(new Events.Cause(true, "guest-reset"),
                Events.cause(new VmState.Stopped("the guest asked for a reset (vCPU 0); Janus does not reset VMs"), false));
        assertEquals(new Events.Cause(false, "host-ui"), Events.cause(new VmState.Stopped("stopped by the host"), false));
        assertEquals(new Events.Cause(false, "host-signal"), Events.cause(new VmState.Stopped("the VM manager is going away"), false));
        assertEquals(new Events.Cause(false, "host-error"), Events.cause(new VmState.Failed("vCPU 0: the guest program crashed"), false));
        assertEquals(new Events.Cause(false, "host-error"), Events.cause(
                new VmState.Stopped("platform sw-protected went away; no replacement came within 30 s"), false));
    }

    @Test
    void aStartIntoCreatedHasNoEvent() {
        assertNull(message("vm-1", new VmState.Created(), new VmState.Created()));
    }
}
