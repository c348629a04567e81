package org.janus.benchmarks.nested;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.janus.benchmarks.report.Results;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.conformance.RealModeCode;
import org.janus.kvm.linux.LinuxKvmDevice;
import org.janus.machine.internal.ConversionEngine;
import org.janus.machine.internal.ConversionOutcome;
import org.janus.machine.internal.ConversionRequest;
import org.janus.machine.internal.GuestMemoryMap;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;

/**
 * The conversion benchmark on a real kernel's KVM, as a functional figure: a real-mode x86 guest of a
 * software-protected VM converts one 4 KiB page back and forth with KVM_HC_MAP_GPA_RANGE and writes into it after
 * each conversion (so that the new face is faulted in), and Janus's conversion engine with a real memory backend
 * answers each hypercall, as the machine's vCPU loop does. Per conversion it times Janus's part (the engine and the
 * backend: attributes, discard; then completing the hypercall) and the whole cycle from one conversion exit to the
 * next (Janus's part, re-entering the guest, the guest's write faulting the new page in, the next exit). It also
 * times a plain port-I/O exit, the cost of an exit alone on this machine. Each backend runs the guest twice: a
 * warm-up pass, then the measured one.
 *
 * <p>Meant for the nested environment (itests/nested-kvm/run-benchmarks.sh): a Debian kernel under QEMU TCG with
 * emulated SVM, where every figure is that of an emulated machine, comparable only with the floor measured in the
 * same guest, never with the software KVM's. The in-place backend runs where the kernel offers per-guest_memfd
 * attributes; otherwise its suitability's reason is recorded.
 *
 * <p>Usage: {@code NestedConversion --out FILE [--rounds N]} (default 400 round trips, i.e. 800 conversions).
 */
public final class NestedConversion {
    static final long CODE = 0x1000;
    static final long DATA = 0x20000;
    static final long M = 1L << 20;
    static final int PORT = 0x10;
    static final long PAGE = 4096;

    /** Percentiles of a set of times, in microseconds. */
    public record Stats(int count, double mean, double p50, double p90, double p99, double max) {
        static Stats of(long[] ns) {
            long[] s = ns.clone();
            Arrays.sort(s);
            double mean = Arrays.stream(s).average().orElse(Double.NaN) / 1e3;
            return new Stats(s.length, mean, pct(s, 50) / 1e3, pct(s, 90) / 1e3, pct(s, 99) / 1e3, s.length == 0 ? Double.NaN : s[s.length - 1] / 1e3);
        }

        private static double pct(long[] sorted, double p) {
            if (sorted.length == 0) return Double.NaN;
            int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
        }
    }

    /** One backend's figures: Janus's part per conversion, the whole cycle per conversion. */
    public record Backend(String backend, boolean usable, String reason, Stats janus, Stats cycle) {}

    public record Result(String kernel, String kvmModule, long vmTypes, int rounds, Stats exitRoundTrip, List<Backend> backends) {}

    private NestedConversion() {}

    public static void main(String[] args) throws Exception {
        Path out = null;
        int rounds = 400;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("NestedConversion: unknown argument " + args[i] + "; usage: --out FILE [--rounds N]");
                    System.exit(2);
                }
            }
        }
        if (out == null || rounds < 1 || rounds > 600) {
            System.err.println("NestedConversion: usage: --out FILE [--rounds N] (1 to 600 round trips: the code must fit in 64 KiB)");
            System.exit(2);
        }
        if (!new File(LinuxKvmDevice.PATH).exists()) {
            System.err.println("NestedConversion: no " + LinuxKvmDevice.PATH + ": run it in the nested environment (itests/nested-kvm/run-benchmarks.sh)");
            System.exit(1);
        }
        Kvm kvm = LinuxKvmDevice.open();
        long types = kvm.checkExtension(KvmCap.VM_TYPES);
        if ((types & (1L << VmType.X86_SW_PROTECTED)) == 0) {
            System.err.println("NestedConversion: KVM_CAP_VM_TYPES=0x" + Long.toHexString(types)
                    + " has no software-protected VM type: the nested environment's rebuilt kvm modules have it");
            System.exit(1);
        }
        Stats exits = exitRoundTrip(kvm, 2 * rounds);
        List<Backend> backends = new ArrayList<>();
        backends.add(measure(kvm, "legacy, discard", new LegacyBackend(true), rounds));
        backends.add(measure(kvm, "legacy, keep", new LegacyBackend(false), rounds));
        backends.add(measure(kvm, "in place", new GuestMemfdBackend(), rounds));
        backends.add(kernelOnly(kvm, rounds));
        String kernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        String module = Files.exists(Path.of("/sys/module/kvm_amd")) ? "kvm_amd" : Files.exists(Path.of("/sys/module/kvm_intel")) ? "kvm_intel" : "?";
        Result r = new Result(kernel, module, types, rounds, exits, backends);
        System.out.printf(Locale.ROOT, "kernel %s (%s), VM types 0x%x; exit round trip p50 %.1f us%n", kernel, module, types, exits.p50());
        for (Backend b : backends) {
            if (!b.usable()) System.out.printf(Locale.ROOT, "  %-16s not usable: %s%n", b.backend(), b.reason());
            else System.out.printf(Locale.ROOT, "  %-16s Janus p50 %.1f p99 %.1f us; cycle p50 %.1f p99 %.1f us (%d conversions)%n", b.backend(),
                    b.janus().p50(), b.janus().p99(), b.cycle().p50(), b.cycle().p99(), b.janus().count());
        }
        Results.write(out, r);
    }

    /** Times {@code count} OUT exits of a guest that does nothing else: the cost of an exit and re-entry alone. */
    static Stats exitRoundTrip(Kvm kvm, int count) {
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            GuestRam ram = new LegacyBackend(true).create(kvm, vm, new RamRegion("ram", 0, 0, M), PageState.SHARED);
            try (KvmVcpu vcpu = vm.createVcpu(0)) {
                RealModeCode code = new RealModeCode();
                for (int i = 0; i < count; i++) code.out(PORT, i);
                ram.write(CODE, code.hlt().toBytes());
                long[] times = null;
                for (int pass = 0; pass < 2; pass++) {
                    start(vcpu);
                    long[] t = new long[count];
                    int n = 0;
                    long last = System.nanoTime();
                    while (true) {
                        VcpuExit exit = vcpu.run();
                        long now = System.nanoTime();
                        if (exit instanceof VcpuExit.Hlt) break;
                        if (exit instanceof VcpuExit.Io io && io.port() == PORT) {
                            if (io.value() > 0) t[n++] = now - last;
                        } else if (!(exit instanceof VcpuExit.Interrupted)) {
                            throw new IllegalStateException("unexpected exit " + exit);
                        }
                        last = now;
                    }
                    times = Arrays.copyOf(t, n);
                }
                return Stats.of(times);
            } finally {
                ram.close();
            }
        }
    }

    static Backend measure(Kvm kvm, String name, MemoryBackend backend, int rounds) {
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            var suitability = backend.suitability(vm);
            if (!suitability.usable()) return new Backend(name, false, suitability.reason(), null, null);
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
            GuestRam ram = backend.create(kvm, vm, new RamRegion("ram", 0, 0, M), PageState.SHARED);
            try (KvmVcpu vcpu = vm.createVcpu(0)) {
                ConversionEngine engine = new ConversionEngine(new GuestMemoryMap(List.of(ram), List.of()));
                long nr = Hypercalls.KVM_HC_MAP_GPA_RANGE;
                RealModeCode code = new RealModeCode().dataSegments(DATA).fill(0, 1, 0x5a5a5a5aL);
                for (int i = 0; i < rounds; i++) {
                    code.hypercall(nr, DATA, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED).fill(0, 1, 0xa0000000L + i)
                            .hypercall(nr, DATA, 1, Hypercalls.MAP_GPA_RANGE_DECRYPTED).fill(0, 1, 0xb0000000L + i);
                }
                byte[] bytes = code.hlt().toBytes();
                if (CODE + bytes.length > DATA) throw new IllegalArgumentException(rounds + " rounds do not fit below the data page");
                ram.write(CODE, bytes);
                long[] janus = null;
                long[] cycle = null;
                for (int pass = 0; pass < 2; pass++) {
                    start(vcpu);
                    long[] j = new long[2 * rounds];
                    long[] c = new long[2 * rounds];
                    int n = 0;
                    int cycles = 0;
                    long previous = -1;
                    while (true) {
                        VcpuExit exit = vcpu.run();
                        long t0 = System.nanoTime();
                        if (exit instanceof VcpuExit.Hlt) break;
                        if (exit instanceof VcpuExit.Hypercall h) {
                            ConversionOutcome o = engine.handle(ConversionRequest.fromMapGpaRange(h));
                            if (!(o instanceof ConversionOutcome.Done))
                                throw new IllegalStateException(name + ": conversion " + n + " was not done: " + o);
                            vcpu.completeHypercall(o.guestAnswer());
                            long t1 = System.nanoTime();
                            j[n++] = t1 - t0;
                            if (previous >= 0) c[cycles++] = t0 - previous;
                            previous = t0;
                        } else if (!(exit instanceof VcpuExit.Interrupted)) {
                            throw new IllegalStateException(name + ": unexpected exit " + exit);
                        }
                    }
                    if (n != 2 * rounds) throw new IllegalStateException(name + ": " + n + " conversions, not " + 2 * rounds);
                    if (ram.privateBytes() != 0) throw new IllegalStateException(name + ": the page did not end shared");
                    janus = j;
                    cycle = Arrays.copyOf(c, cycles);
                }
                return new Backend(name, true, suitability.reason(), Stats.of(janus), Stats.of(cycle));
            } finally {
                ram.close();
            }
        }
    }

    /**
     * The same guest and exit loop with Janus taken out: each hypercall is answered by the legacy conversion's kernel
     * calls made directly (KVM_SET_MEMORY_ATTRIBUTES of the page, the stale face's hole punched) through the same JNA
     * bindings, so that Janus's part minus this one is what Janus itself adds on this machine.
     */
    static Backend kernelOnly(Kvm kvm, int rounds) {
        String name = "kernel calls only (legacy, discard)";
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
            try (HostMemfd shared = kvm.memfdCreate("janus-bench-shared", M);
                 HostMapping mapping = shared.mmap(0, M, true);
                 GuestMemfd gmem = vm.createGuestMemfd(M, 0);
                 KvmVcpu vcpu = vm.createVcpu(0)) {
                vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(0, 0, M, mapping.address(), gmem, 0));
                RealModeCode code = new RealModeCode().dataSegments(DATA).fill(0, 1, 0x5a5a5a5aL);
                long nr = Hypercalls.KVM_HC_MAP_GPA_RANGE;
                for (int i = 0; i < rounds; i++) {
                    code.hypercall(nr, DATA, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED).fill(0, 1, 0xa0000000L + i)
                            .hypercall(nr, DATA, 1, Hypercalls.MAP_GPA_RANGE_DECRYPTED).fill(0, 1, 0xb0000000L + i);
                }
                mapping.write(CODE, code.hlt().toBytes());
                long[] janus = null;
                long[] cycle = null;
                for (int pass = 0; pass < 2; pass++) {
                    start(vcpu);
                    long[] j = new long[2 * rounds];
                    long[] c = new long[2 * rounds];
                    int n = 0;
                    int cycles = 0;
                    long previous = -1;
                    while (true) {
                        VcpuExit exit = vcpu.run();
                        long t0 = System.nanoTime();
                        if (exit instanceof VcpuExit.Hlt) break;
                        if (exit instanceof VcpuExit.Hypercall h) {
                            boolean toPrivate = (h.arg(2) & Hypercalls.MAP_GPA_RANGE_ENCRYPTED) != 0;
                            vm.setMemoryAttributes(MemoryAttributes.of(h.arg(0), PAGE, toPrivate ? MemoryAttribute.PRIVATE : 0));
                            if (toPrivate) shared.punchHole(h.arg(0), PAGE);
                            else gmem.punchHole(h.arg(0), PAGE);
                            vcpu.completeHypercall(0);
                            long t1 = System.nanoTime();
                            j[n++] = t1 - t0;
                            if (previous >= 0) c[cycles++] = t0 - previous;
                            previous = t0;
                        } else if (!(exit instanceof VcpuExit.Interrupted)) {
                            throw new IllegalStateException(name + ": unexpected exit " + exit);
                        }
                    }
                    if (n != 2 * rounds) throw new IllegalStateException(name + ": " + n + " conversions, not " + 2 * rounds);
                    janus = j;
                    cycle = Arrays.copyOf(c, cycles);
                }
                return new Backend(name, true, "the kernel calls of a legacy conversion with discard, made directly", Stats.of(janus), Stats.of(cycle));
            }
        }
    }

    private static void start(KvmVcpu vcpu) {
        vcpu.setSregs(vcpu.getSregs().withCs(Sregs.Segment.real(0, 0xb)));
        vcpu.setRegs(Regs.reset().withRip(CODE));
    }
}
