package org.janus.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import javax.inject.Inject;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.janus.machine.ServiceInfo;
import org.janus.machine.ServiceKind;
import org.janus.machine.VmEvent;
import org.janus.machine.VmListener;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.janus.machine.VmStatus;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * Platform and memory-backend bundles updated, replaced and uninstalled in Felix while a VM runs the
 * conversion-storm guest, in place and legacy: the VM parks at an exit boundary, moves to the new bundle's service
 * and runs on; without a replacement it waits, paused and saying why, then stops when the grace period ends. The
 * storm checks every word it wrote after each conversion, so lost data fails the VM. One framework per test
 * (PerMethod): each test updates and uninstalls bundles.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class HotSwapIT {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @Inject
    private BundleContext context;

    @Inject
    private VmManager manager;

    @Inject
    private ConfigurationAdmin configurationAdmin;

    private final List<VmEvent> events = new CopyOnWriteArrayList<>();
    private final VmListener listener = events::add;

    @org.ops4j.pax.exam.Configuration
    public Option[] configuration() {
        return PaxFramework.framework(List.of(systemProperty("janus.ovmf").value(ovmf().map(Path::toString).orElse(""))),
                "org.janus.memory.api", "org.janus.memory.gmem", "org.janus.memory.legacy", "org.janus.platform.api", "org.janus.platform.none", "org.janus.platform.swprotected", "org.janus.platform.snp", "org.janus.devices", "org.janus.machine", "org.janus.guests", "org.janus.deploy");
    }

    @Before
    public void listen() { manager.addListener(listener); }

    @After
    public void stopListening() { manager.removeListener(listener); }

    /** A conversion storm long enough to outlast every swap of a test; the test stops it. */
    private String startStorm(String backend) throws Exception {
        String profile = backend.equals("legacy") ? "7.3" : "inplace";
        String json = """
                { "name": "storm-%s",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "x86" },
                  "platform": { "id": "sw-protected" },
                  "memory": { "backend": "%s", "ram": [ { "name": "low", "gpa": 0, "size": "64M" } ] },
                  "vcpus": { "count": 2 },
                  "guest": { "program": "conversion-storm", "options": { "iterations": 1000000, "sizes": [ "4K", "2M" ], "pagesPerRange": 4 } } }
                """.formatted(backend, profile, backend);
        // The sim's profile is per VM (the spec names it), the framework's sim service is only the default.
        String id = manager.create(MachineSpec.parse(json, null));
        manager.start(id);
        return id;
    }

    private long done(String id) { return manager.status(id).conversionsDone(); }

    private void awaitConversions(String id, long beyond) throws InterruptedException {
        await(() -> done(id) > beyond, id + " converts beyond " + beyond + " (at " + done(id) + ", " + manager.state(id) + ")");
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within " + WAIT.toSeconds() + " s: " + what);
            Thread.sleep(5);
        }
    }

    /** Stops the storm and checks it never failed, refused nothing and each request was counted once. */
    private RunSummary stopAndCheck(String id) {
        RunSummary s = manager.stop(id);
        assertEquals(s.console(), new VmState.Stopped("stopped by the host"), s.end());
        long requests = s.conversions().stream().mapToLong(RunSummary.ConversionCount::requests).sum();
        long done = s.conversions().stream().mapToLong(RunSummary.ConversionCount::done).sum();
        long refused = s.conversions().stream().mapToLong(RunSummary.ConversionCount::refused).sum();
        assertEquals(s.conversions().toString(), 0, refused);
        assertEquals(s.conversions().toString(), requests, done);
        return s;
    }

    private Bundle installed(String symbolicName) {
        return Arrays.stream(context.getBundles()).filter(b -> symbolicName.equals(b.getSymbolicName())).findFirst()
                .orElseThrow(() -> new AssertionError(symbolicName + " is not installed"));
    }

    private List<VmEvent.Swapped> swaps() {
        return events.stream().filter(e -> e instanceof VmEvent.Swapped).map(e -> (VmEvent.Swapped) e).toList();
    }

    /** The bundle's jar with another Bundle-Version: a newer build of the same bundle. */
    static byte[] withVersion(String symbolicName, String version) throws IOException {
        Path jar = Path.of(System.getProperty("bundles.dir", "target/bundles"), symbolicName + ".jar");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JarInputStream in = new JarInputStream(Files.newInputStream(jar))) {
            Manifest m = new Manifest(in.getManifest());
            m.getMainAttributes().put(new Attributes.Name("Bundle-Version"), version);
            try (JarOutputStream j = new JarOutputStream(out, m)) {
                for (JarEntry e; (e = in.getNextJarEntry()) != null; ) {
                    j.putNextEntry(new JarEntry(e.getName()));
                    in.transferTo(j);
                    j.closeEntry();
                }
            }
        }
        return out.toByteArray();
    }

    private static InputStream stream(byte[] b) { return new ByteArrayInputStream(b); }

    @Test
    public void updatingThePlatformBundleMovesRunningVmsToTheNewRevision() throws Exception {
        for (String backend : List.of("guest-memfd", "legacy")) {
            events.clear();
            String id = startStorm(backend);
            awaitConversions(id, 50);
            Bundle platform = installed("org.janus.platform.swprotected");
            String before = manager.status(id).platform().version();

            platform.update(stream(withVersion("org.janus.platform.swprotected", "1.2.3")));
            VmStatus after = manager.status(id);
            assertEquals(after.toString(), "1.2.3", after.platform().version());
            assertNotEquals(before, after.platform().version());
            assertTrue(after.state().toString(), after.state() instanceof VmState.Running);
            assertEquals(1, after.swaps());
            // The update stopped the old bundle (the VM waited, paused) and started the new one (it took over).
            List<String> states = events.stream().filter(e -> e instanceof VmEvent.StateChanged)
                    .map(e -> ((VmEvent.StateChanged) e).to().getClass().getSimpleName()).toList();
            assertEquals(List.of("Running", "Paused", "Running"), states);
            long at = done(id);
            awaitConversions(id, at + 50);
            stopAndCheck(id);
            platform.update(stream(withVersion("org.janus.platform.swprotected", before)));
        }
    }

    @Test
    public void aHigherVersionFromAnotherBundleTakesOverAndTheOldOneComesBackWhenItGoes() throws Exception {
        String id = startStorm("guest-memfd");
        awaitConversions(id, 50);
        // Another bundle (another location) registering the same platform id with a higher version.
        Bundle newer = context.installBundle("janus:sw-protected-2", stream(withVersion("org.janus.platform.swprotected", "2.0.0")));
        newer.start();
        VmStatus s = manager.status(id);
        assertEquals(s.toString(), "2.0.0", s.platform().version());
        assertTrue(s.state() instanceof VmState.Running);
        assertEquals(1, swaps().size());
        assertTrue(swaps().get(0).pausedNanos() > 0);
        List<ServiceInfo> platforms = manager.services().stream().filter(i -> i.kind() == ServiceKind.PLATFORM && i.id().equals("sw-protected")).toList();
        assertEquals(platforms.toString(), 2, platforms.size());
        assertEquals("2.0.0", platforms.get(0).version());
        assertTrue(platforms.get(0).preferred());
        assertEquals(List.of(id), platforms.get(0).vms());

        long at = done(id);
        awaitConversions(id, at + 50);
        newer.uninstall();
        s = manager.status(id);
        assertNotEquals("2.0.0", s.platform().version());
        assertTrue(s.state() instanceof VmState.Running);
        assertEquals(2, swaps().size());
        at = done(id);
        awaitConversions(id, at + 50);
        stopAndCheck(id);
    }

    @Test
    public void uninstalledWithoutReplacementTheVmWaitsThenStopsAfterTheGracePeriod() throws Exception {
        Configuration machine = configurationAdmin.getConfiguration("org.janus.machine", "?");
        Dictionary<String, Object> grace = new Hashtable<>();
        grace.put("swapGraceSeconds", 2L);
        machine.update(grace);
        // Config Admin delivers asynchronously; the VM manager's service carries its configuration once it is in force.
        await(() -> {
            var ref = context.getServiceReference(VmManager.class);
            return ref != null && Long.valueOf(2).equals(ref.getProperty("swapGraceSeconds"));
        }, "the VM manager takes swapGraceSeconds=2");
        try {
            String id = startStorm("guest-memfd");
            awaitConversions(id, 50);
            Bundle platform = installed("org.janus.platform.swprotected");
            byte[] jar = Files.readAllBytes(Path.of(System.getProperty("bundles.dir", "target/bundles"), "org.janus.platform.swprotected.jar"));
            platform.uninstall();
            VmState waiting = manager.state(id);
            assertTrue(waiting.toString(), waiting instanceof VmState.Paused && waiting.toString().contains("went away; waiting up to 2 s"));
            long frozen = done(id);
            assertTrue(manager.status(id).vcpus().stream().allMatch(v -> v.phase().equals("parked")));
            assertEquals("no conversion while the platform is away", frozen, done(id));

            // It comes back within the grace period: the VM runs on.
            Bundle back = context.installBundle("janus:sw-protected-back", stream(jar));
            back.start();
            assertTrue(manager.state(id).toString(), manager.state(id) instanceof VmState.Running);
            awaitConversions(id, frozen + 50);

            // It goes again and nothing comes: the VM stops with the reason when the grace period ends.
            back.uninstall();
            RunSummary s = manager.awaitEnd(id, WAIT);
            assertTrue(s.end().toString(), s.end() instanceof VmState.Stopped
                    && s.end().toString().contains("went away; no replacement came within 2 s"));
            assertTrue(s.conversions().stream().allMatch(c -> c.refused() == 0));
            context.installBundle("janus:sw-protected-again", stream(jar)).start();
        } finally {
            machine.delete();
        }
    }

    @Test
    public void bundlesDroppedIntoDeployTakeOverRunningVmsAndBadFilesChangeNothing() throws Exception {
        Path deploy = Files.createTempDirectory("janus-deploy");
        Configuration config = configurationAdmin.getConfiguration("org.janus.deploy", "?");
        Dictionary<String, Object> p = new Hashtable<>();
        p.put("directory", deploy.toString());
        p.put("pollMillis", 50L);
        config.update(p);
        try {
            String id = startStorm("guest-memfd");
            awaitConversions(id, 50);
            int bundlesBefore = context.getBundles().length;

            // Not bundles, and a bundle that does not resolve: refused, nothing installed, the VM untouched.
            Files.writeString(deploy.resolve("notes.txt"), "not a bundle");
            Files.write(deploy.resolve("garbage.jar"), new byte[] {1, 2, 3});
            Files.write(deploy.resolve("a-newer-platform.jar"), withVersion("org.janus.platform.swprotected", "5.0.0"));
            await(() -> "5.0.0".equals(manager.status(id).platform().version()), "the deployed 5.0.0 platform takes the VM over");
            assertEquals("only the deployed bundle was added", bundlesBefore + 1, context.getBundles().length);
            assertTrue(manager.state(id) instanceof VmState.Running);
            assertEquals(1, manager.status(id).swaps());

            // A newer build over the deployed file: its bundle is updated, and the VM moves to it.
            Files.write(deploy.resolve("a-newer-platform.jar"), withVersion("org.janus.platform.swprotected", "5.1.0"));
            await(() -> "5.1.0".equals(manager.status(id).platform().version()), "the 5.1.0 update takes the VM over");
            assertEquals(bundlesBefore + 1, context.getBundles().length);
            long at = done(id);
            awaitConversions(id, at + 50);

            // The file removed: the bundle is uninstalled and the VM goes back to the platform it started on.
            Files.delete(deploy.resolve("a-newer-platform.jar"));
            await(() -> !manager.status(id).platform().version().startsWith("5."), "the VM moves back when the deployed bundle goes");
            // The VM moves when the service goes, while the bundle is stopping: its uninstall completes just after.
            await(() -> context.getBundles().length == bundlesBefore, "the deployed bundle is uninstalled");
            assertTrue(manager.state(id) instanceof VmState.Running);
            stopAndCheck(id);
        } finally {
            config.delete();
        }
    }

    /**
     * Debian's OVMF: installed, or fetched into the repository's cache by tools/fetch-ovmf.sh (the runtime build
     * runs it). Empty when neither is there.
     */
    static java.util.Optional<Path> ovmf() {
        for (Path p : List.of(Path.of("/usr/share/ovmf/OVMF.fd"), Path.of("../.cache/ovmf/current/usr/share/qemu/OVMF.fd").toAbsolutePath().normalize())) {
            if (Files.isRegularFile(p)) return java.util.Optional.of(p);
        }
        return java.util.Optional.empty();
    }

    @Test
    public void updatingTheSevSnpBundleUnderALinuxLikeSnpBootKeepsItGoing() throws Exception {
        String firmware = System.getProperty("janus.ovmf", "");
        if (firmware.isEmpty()) {
            if (System.getenv("CI") != null) throw new AssertionError("Debian's OVMF is neither installed nor fetched into .cache/ovmf");
            org.junit.Assume.assumeTrue("Debian's OVMF is neither installed nor fetched into .cache/ovmf", false);
        }
        for (String backend : List.of("guest-memfd", "legacy")) {
            events.clear();
            String json = """
                    { "name": "snp-%s",
                      "kvm": { "provider": "sim", "profile": "%s", "hardware": "amd-snp" },
                      "platform": { "id": "sev-snp", "policy": "0x30000" },
                      "memory": { "backend": "%s",
                        "ram": [ { "name": "ram-low", "gpa": 0, "size": "1G" }, { "name": "bios", "gpa": "0xffe00000", "size": "2M" } ],
                        "mmio": [ { "name": "ioapic", "gpa": "0xfec00000", "size": "4K" } ] },
                      "vcpus": { "count": 2, "model": "EPYC-v4" },
                      "images": { "firmware": "%s" },
                      "guest": { "program": "linux-snp-boot", "options": { "accept": "96M", "chunk": "4K", "swiotlb": "4M", "seed": 7 } } }
                    """.formatted(backend, backend.equals("legacy") ? "7.3" : "inplace", backend, firmware);
            String id = manager.create(MachineSpec.parse(json, null));
            manager.start(id);
            awaitConversions(id, 200);
            Bundle snp = installed("org.janus.platform.snp");
            String before = manager.status(id).platform().version();
            snp.update(stream(withVersion("org.janus.platform.snp", "1.2.3")));
            VmStatus s = manager.status(id);
            assertEquals(s.toString(), "1.2.3", s.platform().version());
            assertTrue(s.state().toString(), s.state() instanceof VmState.Running);
            assertEquals(1, s.swaps());
            // The guest checks its private data and bounce buffers itself, and ends with exit code 0 when all held.
            RunSummary end = manager.awaitEnd(id, WAIT);
            assertTrue(end.end() + "\n" + end.console(), end.endedNormally());
            assertTrue(end.conversions().stream().allMatch(c -> c.refused() == 0));
            snp.update(stream(withVersion("org.janus.platform.snp", before)));
        }
    }

    @Test
    public void updatingABackendBundleHandsTheRamToTheNewRevision() throws Exception {
        for (String backend : List.of("guest-memfd", "legacy")) {
            events.clear();
            String id = startStorm(backend);
            awaitConversions(id, 50);
            String symbolicName = backend.equals("legacy") ? "org.janus.memory.legacy" : "org.janus.memory.gmem";
            Bundle bundle = installed(symbolicName);
            String before = manager.status(id).backend().version();
            bundle.update(stream(withVersion(symbolicName, "3.0.0")));
            VmStatus s = manager.status(id);
            assertEquals(s.toString(), "3.0.0", s.backend().version());
            assertTrue(s.state().toString(), s.state() instanceof VmState.Running);
            assertEquals(1, swaps().size());
            assertEquals(ServiceKind.BACKEND, swaps().get(0).kind());
            assertEquals(backend, manager.memoryMap(id).get(0).backend());
            long at = done(id);
            awaitConversions(id, at + 50);
            RunSummary end = stopAndCheck(id);
            assertEquals(backend, end.memory().get(0).backend());
            bundle.update(stream(withVersion(symbolicName, before)));
        }
    }
}
