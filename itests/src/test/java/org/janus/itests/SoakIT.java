package org.janus.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import javax.inject.Inject;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;

/**
 * Soak: conversion storms on several VMs (in place and legacy) while the platform bundle is updated every few
 * seconds, for {@code janus.soak.seconds} (60 in CI; 600 for the full soak: {@code mvn -pl itests verify
 * -Dit.test=SoakIT -Djanus.soak.seconds=600}). Heap after a collection, file descriptors, memfd mappings and Janus
 * threads are sampled after every swap; after the first samples (class loading, the first VMs) none may grow,
 * every request the guests made is counted once and carried out, and no guest finds its data changed.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SoakIT {
    static final int VMS = 3;
    static final long SWAP_EVERY_MS = 3000;

    @Inject
    private BundleContext context;

    @Inject
    private VmManager manager;

    @org.ops4j.pax.exam.Configuration
    public Option[] configuration() {
        return PaxFramework.framework(List.of(systemProperty("janus.soak.seconds").value(System.getProperty("janus.soak.seconds", "60"))),
                "org.janus.memory.api", "org.janus.memory.gmem", "org.janus.memory.legacy", "org.janus.platform.api", "org.janus.platform.swprotected", "org.janus.devices", "org.janus.machine", "org.janus.guests");
    }

    /** What a VM could leave growing. */
    record Sample(long second, long heapBytes, long fds, long memfdMappings, long threads, long conversions) {
        @Override public String toString() {
            return String.format("t=%4ds heap=%6.1f MiB fds=%4d memfd-maps=%4d threads=%3d conversions=%d", second, heapBytes / 1048576.0,
                    fds, memfdMappings, threads, conversions);
        }
    }

    private Sample sample(long second, List<String> vms) throws Exception {
        System.gc();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long fds;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            fds = s.count();
        }
        long maps;
        try (Stream<String> s = Files.lines(Path.of("/proc/self/maps"))) {
            // Distinct memfds mapped (by inode): private pages split a mapping into several lines as conversions go.
            maps = s.filter(l -> l.contains("/memfd:")).map(l -> l.trim().split("\\s+")[4]).distinct().count();
        }
        // The grace timer's thread lives a second after each update: not a VM's.
        long threads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("janus-") && !t.getName().equals("janus-swap-grace")).count();
        long conversions = vms.stream().mapToLong(v -> manager.status(v).conversionsDone()).sum();
        return new Sample(second, heap, fds, maps, threads, conversions);
    }

    @Test
    public void conversionStormsOnSeveralVmsSurviveAPlatformUpdateEveryFewSeconds() throws Exception {
        long seconds = Long.getLong("janus.soak.seconds", 60);
        Bundle platform = Arrays.stream(context.getBundles()).filter(b -> "org.janus.platform.swprotected".equals(b.getSymbolicName()))
                .findFirst().orElseThrow();
        byte[][] builds = {HotSwapIT.withVersion("org.janus.platform.swprotected", "1.0.1"),
            HotSwapIT.withVersion("org.janus.platform.swprotected", "1.0.2")};
        List<String> vms = new ArrayList<>();
        for (int i = 0; i < VMS; i++) {
            String backend = i % 2 == 0 ? "guest-memfd" : "legacy";
            String json = """
                    { "name": "soak-%d",
                      "kvm": { "provider": "sim", "profile": "%s", "hardware": "x86" },
                      "platform": { "id": "sw-protected" },
                      "memory": { "backend": "%s", "ram": [ { "name": "low", "gpa": 0, "size": "64M" } ] },
                      "vcpus": { "count": 2 },
                      "guest": { "program": "conversion-storm", "options": { "seed": %d, "iterations": 1000000, "sizes": [ "4K", "2M" ], "pagesPerRange": 4 } } }
                    """.formatted(i, backend.equals("legacy") ? "7.3" : "inplace", backend, 100 + i);
            String id = manager.create(MachineSpec.parse(json, null));
            manager.start(id);
            vms.add(id);
        }
        List<Sample> samples = new ArrayList<>();
        long start = System.nanoTime();
        int swaps = 0;
        while (System.nanoTime() - start < seconds * 1_000_000_000L) {
            Thread.sleep(SWAP_EVERY_MS);     // the workload's time, not a wait for a condition
            platform.update(new ByteArrayInputStream(builds[swaps % 2]));
            swaps++;
            for (String v : vms) assertTrue(v + " after swap " + swaps + ": " + manager.state(v), manager.state(v) instanceof VmState.Running);
            samples.add(sample((System.nanoTime() - start) / 1_000_000_000L, vms));
        }
        long total = 0;
        for (String v : vms) {
            RunSummary s = manager.stop(v);
            assertEquals(s.console(), new VmState.Stopped("stopped by the host"), s.end());
            long requests = s.conversions().stream().mapToLong(RunSummary.ConversionCount::requests).sum();
            long done = s.conversions().stream().mapToLong(RunSummary.ConversionCount::done).sum();
            long refused = s.conversions().stream().mapToLong(RunSummary.ConversionCount::refused).sum();
            assertEquals(v + ": every request carried out once", requests, done);
            assertEquals(v + ": none refused", 0, refused);
            total += done;
        }
        samples.forEach(s -> System.out.println("soak: " + s));
        System.out.printf("soak: %d s, %d VMs, %d platform updates, %d conversions, 0 lost%n", seconds, VMS, swaps, total);
        assertTrue("the soak made samples", samples.size() >= 4);
        // After the first quarter (class loading, JIT, the first swaps), nothing grows.
        Sample base = samples.get(samples.size() / 4);
        Sample last = samples.get(samples.size() - 1);
        assertEquals("file descriptors: " + samples, base.fds(), last.fds());
        assertEquals("memfd mappings: " + samples, base.memfdMappings(), last.memfdMappings());
        assertEquals("Janus threads: " + samples, base.threads(), last.threads());
        assertTrue("heap grew from " + base + " to " + last, last.heapBytes() - base.heapBytes() < 32L << 20);
        assertTrue("conversions went on", last.conversions() > base.conversions());
    }
}
