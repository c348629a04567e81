package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.SpecProblem;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;

/** A VM manager outside a framework, with the real platforms and backends and a software KVM the test holds. */
final class Machines {
    private Machines() {}

    /** A guest program factory made of a function, for guests written inside a test. */
    record TestGuest(Function<GuestProgramContext, GuestProgram> make) implements GuestProgramFactory {
        @Override public List<SpecProblem> validate(GuestProgramContext context) { return List.of(); }

        @Override public GuestProgram create(GuestProgramContext context) { return make.apply(context); }
    }

    /** The services: none and sw-protected, both backends, {@code kvm} as the registered software KVM. */
    static ServiceDirectory services(SimKvm kvm) {
        return new ServiceDirectory().addKvm(kvm).addPlatform(new NonePlatform()).addPlatform(new SwProtectedPlatform())
                .addBackend(new GuestMemfdBackend()).addBackend(new LegacyBackend(true));
    }

    static SimKvm sim(SimProfile profile) { return SimKvm.create(profile, SimHardware.X86); }

    /**
     * A spec on the software KVM: {@code ram} regions and {@code mmio} holes are JSON array bodies, the guest's
     * program named {@code guest}.
     */
    static String spec(String profile, String platform, String backend, String ram, String mmio, int vcpus, String guest) {
        return """
                { "name": "test",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "x86" },
                  "platform": { "id": "%s" },
                  "memory": { "backend": "%s", "ram": [ %s ], "mmio": [ %s ] },
                  "vcpus": { "count": %d }%s }
                """.formatted(profile, platform, backend, ram, mmio, vcpus,
                guest == null ? "" : ",\n  \"guest\": { \"program\": \"" + guest + "\" }");
    }

    /** Open file descriptors of this process: number to what it refers to. */
    static Map<String, String> openFds() throws IOException {
        Map<String, String> fds = new TreeMap<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    fds.put(p.getFileName().toString(), Files.readSymbolicLink(p).toString());
                } catch (IOException gone) {
                    // the directory stream's own descriptor, closed by now
                }
            }
        }
        return fds;
    }

    /**
     * Fails naming every descriptor opened since {@code before} that a VM could have left: memfds, guest_memfds,
     * KVM fds, anything but the JVM's own sockets and class-path jars (which the JVM opens when it needs them).
     */
    static void assertNoNewFds(Map<String, String> before) throws IOException {
        Map<String, String> now = openFds();
        List<String> added = now.entrySet().stream()
                .filter(e -> !e.getValue().equals(before.get(e.getKey())))
                .filter(e -> !e.getValue().startsWith("socket:") && !e.getValue().endsWith(".jar") && !e.getValue().startsWith("/proc/")
                        && !e.getValue().startsWith("/sys/fs/cgroup/"))     // the JVM's container support, now and then
                .map(e -> e.getKey() + " -> " + e.getValue()).toList();
        assertTrue(added.isEmpty(), "descriptors left open: " + added);
    }

    /** Mappings of memfds (the software KVM's guest memory and host memfds) in this process. */
    static long memfdMappings() throws IOException {
        try (Stream<String> s = Files.lines(Path.of("/proc/self/maps"))) {
            return s.filter(l -> l.contains("/memfd:")).count();
        }
    }

    /** Live threads Janus started (vCPU threads, teardown threads, the software KVM's guest threads). */
    static Set<Thread> janusThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> t.getName().startsWith("janus-")).collect(Collectors.toSet());
    }

    /** Waits up to 10 s until no Janus thread is alive but those of {@code before}; fails naming the others. */
    static void awaitNoNewJanusThreads(Set<Thread> before) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline && !newThreads(before).isEmpty()) Thread.sleep(20);
        assertTrue(newThreads(before).isEmpty(), "threads left: " + newThreads(before));
    }

    private static List<String> newThreads(Set<Thread> before) {
        return janusThreads().stream().filter(t -> !before.contains(t)).map(Thread::getName).sorted().toList();
    }
}
