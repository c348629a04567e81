package org.janus.platform.snp.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;

/**
 * A small real VM for the SEV-SNP platform's tests, made the way the machine makes one but by hand, step by step:
 * the software KVM on AMD SNP hardware, guest RAM from the in-place backend (profile {@code inplace}) or the legacy
 * one (other profiles), vCPUs, and this {@link VmContext} over them. Conversions go to each region's
 * {@link GuestRam}, which is what the machine's conversion engine does per region.
 */
final class SimSnpMachine implements VmContext, AutoCloseable {
    static final long M = 1L << 20;
    static final long FOUR_GIB = 1L << 32;
    /** Low RAM holding OVMF's SEV metadata sections ([0x800000, 0x820000) in Debian's images). */
    static final RamRegion LOW = new RamRegion("low", 0, 0, 16 * M);
    /** RAM under the firmware image, which ends at 4 GiB. */
    static final RamRegion BIOS = new RamRegion("bios", 1, FOUR_GIB - 4 * M, 4 * M);

    final SimKvm kvm;
    final KvmVm vm;
    final SevSnpPlatform platform;
    final PlatformSpec spec;
    final boolean inPlace;
    final List<GuestRam> rams = new ArrayList<>();
    final List<KvmVcpu> vcpus = new ArrayList<>();
    final List<String> log = new ArrayList<>();
    private final Map<String, Object> state = new HashMap<>();

    SimSnpMachine(SimProfile profile, PlatformSpec spec) {
        this.kvm = SimKvm.create(profile, SimHardware.AMD_SNP);
        this.platform = new SevSnpPlatform();
        this.spec = spec;
        this.inPlace = profile == SimProfile.INPLACE;
        this.vm = kvm.createVm(platform.vmType(kvm));
    }

    /** The whole recipe: initVm, RAM, vCPUs, launch. */
    static LaunchResult launch(SimSnpMachine m, List<RamRegion> ram) {
        m.platform.initVm(m);
        m.addRam(ram);
        m.addVcpus();
        return m.platform.launch(m);
    }

    void addRam(List<RamRegion> regions) {
        MemoryBackend backend = inPlace ? new GuestMemfdBackend() : new LegacyBackend(true);
        for (RamRegion r : regions) rams.add(backend.create(kvm, vm, r, platform.initialRamState()));
    }

    void addVcpus() {
        for (int id = 0; id < spec.vcpus(); id++) {
            KvmVcpu vcpu = vm.createVcpu(id);
            vcpus.add(vcpu);
            platform.initVcpu(this, vcpu);
        }
    }

    GuestRam ram(long gpa, long size) {
        for (GuestRam r : rams) if (r.region().contains(gpa, size)) return r;
        throw new PlatformException("test", "finding RAM", String.format("[0x%x, 0x%x) is not inside one RAM region",
                gpa, gpa + size), null);
    }

    @Override public String name() { return "snp-test"; }

    @Override public Kvm kvm() { return kvm; }

    @Override public KvmVm vm() { return vm; }

    @Override public PlatformSpec spec() { return spec; }

    @Override public List<KvmVcpu> vcpus() { return List.copyOf(vcpus); }

    @Override public boolean convertsInPlace() { return inPlace; }

    @Override public void writeGuest(long gpa, byte[] data) { ram(gpa, data.length).write(gpa, data); }

    @Override public byte[] readGuest(long gpa, int length) { return ram(gpa, length).read(gpa, length); }

    @Override public void convert(long gpa, long size, PageState target) {
        try {
            ram(gpa, size).convert(gpa, size, target);
        } catch (MemoryException e) {
            throw new PlatformException(ConfidentialPlatform.SEV_SNP, "converting", e.getMessage(), e);
        }
    }

    @Override public boolean isUniform(long gpa, long size, PageState s) { return ram(gpa, size).isUniform(gpa, size, s); }

    @Override public Map<String, Object> platformState() { return state; }

    @Override public void log(String message) { log.add(message); }

    @Override public void close() {
        vcpus.forEach(KvmVcpu::close);
        rams.forEach(GuestRam::close);
        vm.close();
        // What a platform left in its state is the machine's to release (an open /dev/sev after a failed init).
        state.values().forEach(v -> {
            if (v instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        });
    }
}
