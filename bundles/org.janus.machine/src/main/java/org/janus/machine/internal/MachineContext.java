package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;

/**
 * A VM as its platform sees it. It is filled in as the VM is built (RAM, then vCPUs) and owned by the machine,
 * so a platform bundle that is replaced finds its per-VM state in {@link #platformState()} again.
 */
final class MachineContext implements VmContext {
    private static final System.Logger LOG = System.getLogger(MachineContext.class.getName());

    private final String name;
    private final String platform;
    private final Kvm kvm;
    private final KvmVm vm;
    private final PlatformSpec spec;
    private final String backend;
    /**
     * The platform's answer to {@link org.janus.platform.api.ConfidentialPlatform#keepsPlaintextAcrossConversion()}, asked
     * when the VM is made: it describes the hardware, which a newer bundle of the same platform does not change.
     */
    private final boolean hardwareKeepsPlaintext;
    private final List<KvmVcpu> vcpus = new CopyOnWriteArrayList<>();
    private final Map<String, Object> platformState = new ConcurrentHashMap<>();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private volatile GuestMemoryMap map;
    private volatile VmConversions conversions;

    MachineContext(String name, String platform, Kvm kvm, KvmVm vm, PlatformSpec spec, String backend,
                   boolean hardwareKeepsPlaintext) {
        this.name = name;
        this.platform = platform;
        this.kvm = kvm;
        this.vm = vm;
        this.spec = spec;
        this.backend = backend;
        this.hardwareKeepsPlaintext = hardwareKeepsPlaintext;
    }

    void memory(GuestMemoryMap map, VmConversions conversions) {
        this.map = map;
        this.conversions = conversions;
    }

    void addVcpu(KvmVcpu vcpu) { vcpus.add(vcpu); }

    List<String> logLines() { return List.copyOf(log); }

    @Override public String name() { return name; }

    @Override public Kvm kvm() { return kvm; }

    @Override public KvmVm vm() { return vm; }

    @Override public PlatformSpec spec() { return spec; }

    @Override public List<KvmVcpu> vcpus() { return List.copyOf(vcpus); }

    @Override public boolean convertsInPlace() {
        GuestMemoryMap m = map;
        if (m == null) return MemoryBackend.GUEST_MEMFD.equals(backend);
        return m.rams().stream().allMatch(GuestRam::preservesContents);
    }

    /** The strategy's answer combined with the hardware's: SEV-SNP and TDX lose contents even in place. */
    @Override public ConversionContents conversionContents() {
        return ConversionContents.of(convertsInPlace(), hardwareKeepsPlaintext);
    }

    @Override public void writeGuest(long gpa, byte[] data) {
        int done = 0;
        for (GuestMemoryMap.Ram part : ramParts("writeGuest", gpa, data.length)) {
            int n = (int) part.range().size();
            int at = done;
            hostAccess("writeGuest", () -> part.ram().write(part.range().start(), data, at, n));
            done += n;
        }
    }

    @Override public byte[] readGuest(long gpa, int length) {
        byte[] out = new byte[length];
        int done = 0;
        for (GuestMemoryMap.Ram part : ramParts("readGuest", gpa, length)) {
            int n = (int) part.range().size();
            int at = done;
            hostAccess("readGuest", () -> part.ram().read(part.range().start(), out, at, n));
            done += n;
        }
        return out;
    }

    private void hostAccess(String step, Runnable access) {
        try {
            access.run();
        } catch (MemoryException e) {
            throw new PlatformException(platform, step, e.getMessage(), e);
        }
    }

    /** The RAM parts of [gpa, gpa+length), or a PlatformException when any of it is not RAM. */
    private List<GuestMemoryMap.Ram> ramParts(String step, long gpa, long length) {
        GuestMemoryMap m = map;
        if (m == null) throw new PlatformException(platform, step, "guest RAM does not exist yet", null);
        if (length == 0) return List.of();
        if (gpa < 0 || gpa + length < gpa) throw new PlatformException(platform, step, "range at 0x" + Long.toHexString(gpa) + " overflows", null);
        List<GuestMemoryMap.Ram> parts = new ArrayList<>();
        for (GuestMemoryMap.Area a : m.areas(gpa, gpa + length)) {
            if (!(a instanceof GuestMemoryMap.Ram r))
                throw new PlatformException(platform, step, a.range() + " is not RAM", null);
            parts.add(r);
        }
        return parts;
    }

    @Override public void convert(long gpa, long size, PageState target) {
        VmConversions c = conversions;
        if (c == null) throw new PlatformException(platform, "convert", "guest RAM does not exist yet", null);
        ConversionOutcome outcome = c.handle(ConversionRequest.fromPlatform(gpa, size, target));
        if (outcome instanceof ConversionOutcome.Refused r)
            throw new PlatformException(platform, "convert", GpaRange.of(gpa, size) + " to " + target + " refused: " + r.reason(), null);
        if (outcome instanceof ConversionOutcome.Stop s)
            throw new PlatformException(platform, "convert", GpaRange.of(gpa, size) + " to " + target + " could not be undone in "
                    + s.range() + ": " + s.cause(), s.error());
    }

    @Override public boolean isUniform(long gpa, long size, PageState state) {
        for (GuestMemoryMap.Ram part : ramParts("isUniform", gpa, size)) {
            if (!part.ram().isUniform(part.range().start(), part.range().size(), state)) return false;
        }
        return true;
    }

    @Override public Map<String, Object> platformState() { return platformState; }

    /**
     * Closes what the platform left in {@link #platformState()} that holds something (an {@link AutoCloseable}, e.g.
     * the /dev/sev of a VM that failed between initVm and its launch) and forgets the state: the platform cannot,
     * since a VM may end at any step and the platform keeps nothing itself.
     *
     * @throws IllegalStateException naming each value that could not be closed (the others are closed all the same)
     */
    void closePlatformState() {
        List<String> failures = new ArrayList<>();
        for (Map.Entry<String, Object> e : platformState.entrySet()) {
            if (!(e.getValue() instanceof AutoCloseable c)) continue;
            try {
                c.close();
            } catch (Exception failure) {
                failures.add(e.getKey() + ": " + failure.getMessage());
            }
        }
        platformState.clear();
        if (!failures.isEmpty()) throw new IllegalStateException("platform state not closed: " + String.join("; ", failures));
    }

    /** Lines of the VM's log kept for its status: the newest; a platform that logs per exit cannot grow it. */
    static final int LOG_LINES = 1000;

    @Override public void log(String message) {
        synchronized (log) {
            log.add(message);
            if (log.size() > LOG_LINES) log.remove(0);
        }
        LOG.log(System.Logger.Level.INFO, name + ": " + message);
    }
}
