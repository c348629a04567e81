package org.janus.machine.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;

/**
 * Everything one VM was built from and holds, in the order it was made. {@link #release()} releases it in reverse
 * (vCPUs, then RAM with its memslots, then what the platform keeps in the VM's state, then the VM fd), whatever
 * stage the building reached.
 */
final class Assembly {
    private static final System.Logger LOG = System.getLogger(Assembly.class.getName());

    private record Release(String what, AutoCloseable resource) {}

    final SpecValidator.Plan plan;
    final String name;
    Kvm kvm;
    /** The platform serving the VM now: replaced by a hot swap, null while the VM waits for one to come back. */
    volatile ConfidentialPlatform platform;
    KvmVm vm;
    /** The backend serving the VM's RAM now: replaced by a hot swap, null while the VM waits for one. */
    volatile MemoryBackend backend;
    MachineContext context;
    /** The RAM of each region in slot order; a backend swap replaces each element by its adopter. */
    final List<GuestRam> rams = new CopyOnWriteArrayList<>();
    final List<MmioHole> holes = new ArrayList<>();
    volatile GuestMemoryMap map;
    VmConversions conversions;
    final List<KvmVcpu> vcpus = new ArrayList<>();
    /** The guest's console output kept for the run's summary. */
    final Console console = new Console();
    /** The devices of a direct Linux boot, or null. */
    LinuxDevices devices;
    LaunchResult launch;
    /** The launch measurement the platform computed ahead from the spec alone; empty where it measures nothing. */
    byte[] expectedDigest = new byte[0];
    /** The launch digest the firmware computed, where the KVM can tell it (the software KVM's SNP model); else empty. */
    byte[] firmwareDigest = new byte[0];
    private final Deque<Release> releases = new ArrayDeque<>();
    private boolean closed;

    Assembly(SpecValidator.Plan plan) {
        this.plan = plan;
        this.name = plan.spec().name();
    }

    /** Registers something made, to be released (in reverse order) by {@link #release()}. */
    synchronized <T extends AutoCloseable> T own(String what, T resource) {
        releases.push(new Release(what, resource));
        return resource;
    }

    /**
     * Puts RAM that adopted the current RAM in its place, region by region, with a new memory map and conversion
     * engine. The caller holds the conversion lock and has relinquished the old RAM.
     */
    void replaceRams(List<GuestRam> adopted) {
        for (int i = 0; i < adopted.size(); i++) rams.set(i, adopted.get(i));
        map = new GuestMemoryMap(rams, holes);
        conversions.replaceEngine(new ConversionEngine(map));
        context.memory(map, conversions);
    }

    /** Closes the vCPU fds alone (kicking vCPU threads out of KVM_RUN); {@link #release()} skips them after. */
    synchronized void closeVcpus() {
        for (KvmVcpu v : vcpus) {
            try {
                v.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, name + ": closing vCPU " + v.id() + ": " + e.getMessage());
            }
        }
    }

    /**
     * Releases everything, latest first. A failure to release one thing does not keep the rest.
     *
     * @return what could not be released, empty when all went
     */
    synchronized List<String> release() {
        List<String> failures = new ArrayList<>();
        if (closed) return failures;
        closed = true;
        while (!releases.isEmpty()) {
            Release r = releases.pop();
            try {
                r.resource().close();
            } catch (Exception e) {
                failures.add(r.what() + ": " + e.getMessage());
                LOG.log(System.Logger.Level.WARNING, name + ": releasing " + r.what() + " failed: " + e.getMessage());
            }
        }
        return failures;
    }
}
