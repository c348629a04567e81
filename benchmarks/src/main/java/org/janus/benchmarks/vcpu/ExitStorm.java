package org.janus.benchmarks.vcpu;

import java.time.Duration;
import java.util.List;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecProblem;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;

/**
 * A VM on the software KVM whose vCPUs exit as fast as they can, each a fixed number of times, then halt; built by
 * the machine's own VM manager (outside a framework, with the real platform, backend and conversion engine), so
 * that every exit goes through the vCPU thread, the exit dispatcher and, for conversions, the conversion engine
 * and the guest_memfd backend, as under {@code janus run}.
 */
public final class ExitStorm implements AutoCloseable {
    /** What each exit is. */
    public enum Kind {
        /** An OUT to port 0x80 (the POST port; the platform ignores it): the cheapest exit there is. */
        IO,
        /** A KVM_HC_MAP_GPA_RANGE hypercall converting the vCPU's own 4 KiB page, alternately to private and back. */
        CONVERSION
    }

    static final long PAGE = 4096;
    static final long M2 = 2L << 20;

    private final VmManagerImpl manager;
    private final Kind kind;
    private final int vcpus;
    private final int exitsPerVcpu;

    public ExitStorm(Kind kind, int vcpus, int exitsPerVcpu) {
        if (exitsPerVcpu % 2 != 0) throw new IllegalArgumentException("exits per vCPU must be even (conversions go both ways)");
        this.kind = kind;
        this.vcpus = vcpus;
        this.exitsPerVcpu = exitsPerVcpu;
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        manager = new VmManagerImpl(new ServiceDirectory().addKvm(kvm).addPlatform(new NonePlatform())
                .addPlatform(new SwProtectedPlatform()).addBackend(new GuestMemfdBackend())
                .addGuest("exit-storm", new Factory()));
    }

    /** Creates the VM, its vCPUs parked; returns its id. */
    public String create() throws Exception {
        String spec = """
                { "name": "exit-storm",
                  "kvm": { "provider": "sim", "profile": "inplace", "hardware": "x86" },
                  "platform": { "id": "sw-protected" },
                  "memory": { "backend": "guest-memfd", "ram": [ { "name": "ram", "gpa": 0, "size": "%dM" } ] },
                  "vcpus": { "count": %d },
                  "guest": { "program": "exit-storm" } }
                """.formatted(2 * (vcpus + 1), vcpus);
        return manager.create(SpecReader.read(spec, null));
    }

    /** Starts the VM and waits for its end; fails unless every vCPU made its exits and halted. */
    public RunSummary run(String id) throws Exception {
        manager.start(id);
        RunSummary s = manager.awaitEnd(id, Duration.ofMinutes(10));
        check(s);
        return s;
    }

    public long totalExits() { return (long) vcpus * (exitsPerVcpu + 1); }

    private void check(RunSummary s) {
        if (!s.endedNormally()) throw new IllegalStateException("the exit storm did not end normally: " + s.end());
        String counted = kind == Kind.IO ? "io-out" : "hypercall";
        for (RunSummary.VcpuSummary v : s.vcpus()) {
            long n = v.exits().getOrDefault(counted, 0L);
            if (n != exitsPerVcpu) throw new IllegalStateException("vCPU " + v.id() + " made " + n + " " + counted + " exits, not " + exitsPerVcpu);
        }
    }

    @Override public void close() {
        for (var vm : manager.list()) {
            if (!vm.state().isFinal()) manager.stop(vm.id());
        }
    }

    private final class Factory implements GuestProgramFactory {
        @Override public List<SpecProblem> validate(GuestProgramContext context) { return List.of(); }

        @Override public GuestProgram create(GuestProgramContext context) {
            return cpu -> {
                long gpa = M2 * (cpu.vcpuId() + 1);
                if (kind == Kind.IO) {
                    for (int i = 0; i < exitsPerVcpu; i++) cpu.out(0x80, 1, i);
                } else {
                    for (int i = 0; i < exitsPerVcpu; i += 2) {
                        long a = cpu.mapGpaRange(gpa, 1, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K | Hypercalls.MAP_GPA_RANGE_ENCRYPTED);
                        long b = cpu.mapGpaRange(gpa, 1, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K);
                        if (a != 0 || b != 0) throw new IllegalStateException("conversion of 0x" + Long.toHexString(gpa) + " answered " + a + ", " + b);
                    }
                }
                cpu.hlt();
            };
        }
    }
}
