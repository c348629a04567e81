package org.janus.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.janus.guests.internal.ConversionStormFactory;
import org.janus.guests.internal.HelloFactory;
import org.janus.machine.VmState;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The janus commands against the machine's real VM manager, running VMs on the software KVM. */
class JanusCommandsTest {
    @TempDir Path dir;
    private VmManagerImpl manager;
    private JanusCommands commands;

    @BeforeEach
    void setUp() {
        manager = new VmManagerImpl(new ServiceDirectory()
                .addKvm(SimKvm.create(SimProfile.INPLACE, SimHardware.X86))
                .addPlatform(new NonePlatform()).addPlatform(new SwProtectedPlatform())
                .addBackend(new GuestMemfdBackend()).addBackend(new LegacyBackend(true))
                .addGuest(HelloFactory.NAME, new HelloFactory())
                .addGuest(ConversionStormFactory.NAME, new ConversionStormFactory()));
        commands = new JanusCommands(manager);
    }

    @AfterEach
    void tearDown() {
        for (var v : manager.list()) manager.stop(v.id());
    }

    private Path spec(String name, String json) throws Exception {
        Path p = dir.resolve(name + ".json");
        Files.writeString(p, json);
        return p;
    }

    private Path storm() throws Exception {
        return spec("storm", """
                { "name": "storm",
                  "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
                  "platform": { "id": "sw-protected" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "low", "gpa": 0, "size": "64M" } ] },
                  "vcpus": { "count": 2 },
                  "guest": { "program": "conversion-storm",
                             "options": { "seed": 3, "iterations": 1000000, "sizes": [ "4K", "2M" ], "pagesPerRange": 2 } } }
                """);
    }

    @Test
    void startPauseResumeStopAndList() throws Exception {
        assertEquals(List.of(), commands.vms());
        String id = commands.start(storm().toString());
        assertEquals("vm-1", id);
        List<JanusCommands.Vm> vms = commands.vms();
        assertEquals(1, vms.size());
        assertEquals(new JanusCommands.Vm("vm-1", "storm", "sw-protected", new VmState.Running()), vms.get(0));
        assertTrue(vms.get(0).toString().matches("vm-1 +storm +sw-protected +RUNNING"), vms.get(0).toString());

        JanusCommands.Vm paused = commands.pause(id);
        assertInstanceOf(VmState.Paused.class, paused.state());
        assertEquals(new VmState.Running(), commands.resume(id).state());

        JanusCommands.Ended ended = commands.stop(id);
        assertEquals(new VmState.Stopped("stopped by the host"), ended.end());
        assertTrue(ended.toString().startsWith("vm-1 STOPPED (stopped by the host), ran "), ended.toString());
        assertTrue(commands.vms().get(0).state().isFinal());
    }

    @Test
    void memmapDrawsEachRegionAndListsItsRuns() throws Exception {
        String id = commands.start(storm().toString());
        // Wait until the guest has converted something to shared (the VM starts all private).
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (manager.status(id).conversionsDone() < 4) {
            assertTrue(System.nanoTime() < deadline, "no conversions");
            Thread.sleep(10);
        }
        manager.pause(id);
        String map = commands.memmap(id);
        String[] lines = map.split("\\R");
        assertTrue(lines[0].startsWith("vm-1: P private, . shared, p both"), map);
        String region = lines[1];
        assertTrue(region.startsWith("low        0x000000000000       64M guest-memfd  |"), region);
        String bar = region.substring(region.indexOf('|') + 1, region.lastIndexOf('|'));
        assertEquals(64, bar.length(), region);
        assertTrue(bar.matches("[Pp.]+"), bar);
        assertTrue(lines[2].matches(" {4}0x[0-9a-f]{12}-0x[0-9a-f]{12} +\\S+ (private|shared)"), lines[2]);
    }

    @Test
    void platformsBackendsAndSwap() throws Exception {
        String id = commands.start(storm().toString());
        List<JanusCommands.Service> platforms = commands.platforms();
        assertEquals(List.of("none", "sw-protected"), platforms.stream().map(JanusCommands.Service::id).sorted().toList());
        JanusCommands.Service sw = platforms.stream().filter(s -> s.id().equals("sw-protected")).findFirst().orElseThrow();
        assertEquals(List.of(id), sw.vms());
        assertTrue(sw.toString().contains("preferred"), sw.toString());
        assertEquals(List.of("guest-memfd", "legacy"), commands.backends().stream().map(JanusCommands.Service::id).sorted().toList());

        JanusCommands.Swap same = commands.swap(id, "platform");
        assertFalse(same.swapped());
        assertTrue(same.toString().contains("already on the preferred platform"), same.toString());

        manager.directory().addBackend("guest-memfd", new GuestMemfdBackend(), 5);
        JanusCommands.Swap swapped = commands.swap(id, "backend", "guest-memfd");
        assertTrue(swapped.swapped(), swapped.toString());
        assertEquals(new VmState.Running(), manager.state(id));

        IllegalArgumentException kind = assertThrows(IllegalArgumentException.class, () -> commands.swap(id, "disk"));
        assertEquals("swap vm-1 disk: the kind is platform or backend", kind.getMessage());
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> commands.swap(id, "backend", "legacy"));
        assertFalse(refused.getMessage().contains("\n"), refused.getMessage());
    }

    @Test
    void errorsAreOneClearLine() throws Exception {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> commands.stop("vm-7"));
        assertTrue(unknown.getMessage().startsWith("no VM vm-7"), unknown.getMessage());
        Path bad = spec("bad", "{ \"name\": \"bad\", \"platform\": { \"id\": \"sw-protected\" }, \"memory\": { \"ram\": [] }, \"vcpus\": { \"count\": 0 } }");
        IllegalArgumentException problems = assertThrows(IllegalArgumentException.class, () -> commands.start(bad.toString()));
        assertTrue(problems.getMessage().startsWith(bad + ": "), problems.getMessage());
        assertFalse(problems.getMessage().contains("\n"), problems.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> commands.start(dir.resolve("none.json").toString()));
        assertTrue(missing.getMessage().contains("cannot read"), missing.getMessage());
        String id = commands.start(storm().toString());
        commands.stop(id);
        IllegalStateException ended = assertThrows(IllegalStateException.class, () -> commands.memmap(id));
        assertTrue(ended.getMessage().startsWith("vm-1 has ended"), ended.getMessage());
        IllegalStateException noManager = assertThrows(IllegalStateException.class, () -> new JanusCommands().vms());
        assertTrue(noManager.getMessage().contains("machine feature"), noManager.getMessage());
    }
}
