package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.RunSummary;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryException;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The host never reads a guest's private bytes through Janus: host access to a private page is refused before a byte
 * moves, the memory map and status say where the page is but not what it holds, and a page the guest hands back to
 * shared in legacy mode is a fresh face, never its old private contents. When the VM ends its memory goes back to the
 * kernel: no memfd, mapping or thread of it is left.
 */
class IsolationTest {
    static final long PAGE_GPA = 0x300000;
    static final byte[] SECRET = "the guest's private key material".getBytes(StandardCharsets.US_ASCII);

    @BeforeAll
    static void warmUp() throws Exception {
        // Class loading, JNA and the JDK's random sources open their files once: the first VM is the baseline.
        VmManagerImpl m = new VmManagerImpl(Machines.services(Machines.sim(SimProfile.INPLACE))
                .addGuest("halt", new Machines.TestGuest(c -> cpu -> cpu.hlt())));
        String id = m.create(SpecReader.read(Machines.spec("inplace", "sw-protected", "auto",
                "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"16M\" }", "", 1, "halt"), null));
        m.start(id);
        m.awaitEnd(id, java.time.Duration.ofSeconds(30));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({"guest-memfd, inplace", "legacy, 7.3"})
    void privateBytesNeverReachTheHost(String backend, String profile) throws Exception {
        CountDownLatch written = new CountDownLatch(1);
        CountDownLatch shared = new CountDownLatch(1);
        CountDownLatch checked = new CountDownLatch(1);
        CountDownLatch looked = new CountDownLatch(1);
        SimKvm kvm = Machines.sim(SimProfile.byId(profile));
        ServiceDirectory services = new ServiceDirectory().addKvm(kvm)
                .addGuest("secret", new Machines.TestGuest(c -> cpu -> {
                    cpu.write(PAGE_GPA, SECRET);                   // RAM starts private on sw-protected
                    written.countDown();
                    checked.await();
                    if (cpu.mapGpaRange(PAGE_GPA, 1, 0) != 0) throw new IllegalStateException("to shared refused");
                    shared.countDown();
                    looked.await();                                // the host reads the page meanwhile
                    cpu.hlt();
                }));
        VmManagerImpl manager = new VmManagerImpl(services);
        manager.addPlatform(new SwProtectedPlatform(), Map.of(ConfidentialPlatform.PROPERTY, "sw-protected"));
        manager.addBackend(new GuestMemfdBackend(), Map.of("janus.memory.backend", "guest-memfd"));
        manager.addBackend(new LegacyBackend(true), Map.of("janus.memory.backend", "legacy"));
        var fds = Machines.openFds();
        long maps = Machines.memfdMappings();
        var threads = Machines.janusThreads();

        String id = manager.create(SpecReader.read(Machines.spec(profile, "sw-protected", backend,
                "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"16M\" }", "", 1, "secret"), null));
        manager.start(id);
        assertTrue(written.await(30, TimeUnit.SECONDS));
        GuestRam ram = ramOf(manager, id);
        MemoryException refused = assertThrows(MemoryException.class, () -> ram.read(PAGE_GPA, SECRET.length));
        assertEquals(MemoryException.Step.HOST_ACCESS, refused.step());
        assertThrows(MemoryException.class, () -> ram.write(PAGE_GPA, new byte[8]), "nor written");
        String status = manager.status(id).toString() + manager.memoryMap(id);
        assertFalse(status.contains(new String(SECRET, StandardCharsets.US_ASCII)), "status and memory map carry no contents");
        checked.countDown();

        assertTrue(shared.await(30, TimeUnit.SECONDS));
        byte[] seen = ram.read(PAGE_GPA, SECRET.length);
        if (backend.equals("legacy")) {
            assertArrayEquals(new byte[SECRET.length], seen, "legacy: the shared face is a fresh page, not the private one");
        } else {
            // In place the guest shared the page itself, contents and all: what it chose to show.
            assertArrayEquals(SECRET, seen);
        }
        looked.countDown();
        RunSummary s = manager.awaitEnd(id, java.time.Duration.ofSeconds(30));
        assertTrue(s.endedNormally(), s.end().toString());
        assertFalse(Arrays.toString(s.memory().toArray()).contains(new String(SECRET, StandardCharsets.US_ASCII)));
        Machines.awaitNoNewJanusThreads(threads);
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "the VM's memory went back to the kernel");
    }

    private static GuestRam ramOf(VmManagerImpl manager, String id) throws Exception {
        var f = VmManagerImpl.class.getDeclaredField("vms");
        f.setAccessible(true);
        @SuppressWarnings("unchecked") Map<String, VmInstance> vms = (Map<String, VmInstance>) f.get(manager);
        List<GuestRam> rams = vms.get(id).withRam(List::copyOf);
        return rams.get(0);
    }
}
