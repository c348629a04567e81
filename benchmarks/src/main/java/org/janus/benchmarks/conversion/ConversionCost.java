package org.janus.benchmarks.conversion;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.janus.benchmarks.report.Results;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;

/**
 * Conversion cost end to end through the vCPU exit loop, against the kernel floor, in one run. For each strategy
 * (in place, legacy with discard, legacy without), granularity (4K, 2M, 1G) and vCPU count, a VM on the software KVM
 * with real memfd memory, built by the machine's {@link VmManagerImpl} exactly as {@code janus run} builds one, runs
 * {@link BenchGuest}: populated pages converted back and forth with MAP_GPA_RANGE, each conversion timed in the guest
 * (request, and request + touch of every page), pages allocated counted from the memfds. Right before it, the C
 * floor ({@code src/main/c/conversion_floor.c}, compiled here with gcc) does only the kernel-side work of the same
 * conversions with as many threads.
 *
 * <p>Usage: {@code ConversionCost --out FILE --c-source FILE [--smoke] [--config STRATEGY:UNIT:VCPUS:UNITS:CONVERSIONS]...}
 * ({@code --config} runs only the configurations given, e.g. {@code IN_PLACE:4K:1:1024:20000}, to profile one)
 */
public final class ConversionCost {
    static final long K4 = 4096, M2 = 2L << 20, G1 = 1L << 30;

    /** One configuration: what is converted, how, on how many vCPUs; units per vCPU and conversions per vCPU. */
    public record Config(Strategy strategy, long unit, int vcpus, long unitsPerVcpu, long conversionsPerVcpu) {
        String unitName() { return unit == K4 ? "4K" : unit == M2 ? "2M" : "1G"; }
    }

    /** Latency figures in ns. */
    public record Latency(long p50, long p99, long max, double mean) {}

    /**
     * One side's figures: conversions per second (from the timed conversions: the sum over vCPUs of each one's
     * conversions over its time), the request's latency and the request's + touch's, and pages allocated and freed per
     * conversion (from the memfds).
     */
    public record Side(long conversions, double conversionsPerSecond, Latency request, Latency total, double pagesAllocatedPerConversion,
                       double pagesFreedPerConversion, Latency noop) {}

    public record Row(String strategy, String unit, long unitBytes, int vcpus, Side janus, Side floor) {}

    /**
     * @param simExit the software KVM's own exit round trip, without Janus: a guest's MAP_GPA_RANGE answered by a bare
     *        KVM_RUN loop on the calling thread (what any VMM on the sim pays per exit), in ns
     */
    public record Json(List<Row> rows, String gcc, boolean smoke, Latency simExit) {}

    private ConversionCost() {}

    public static void main(String[] args) throws Exception {
        Path out = null, source = null;
        boolean smoke = false;
        List<Config> only = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--c-source" -> source = Path.of(args[++i]);
                case "--smoke" -> smoke = true;
                case "--config" -> {
                    String[] p = args[++i].split(":");
                    long unit = switch (p[1]) { case "4K" -> K4; case "2M" -> M2; case "1G" -> G1; default -> throw new IllegalArgumentException("unit " + p[1]); };
                    only.add(new Config(Strategy.valueOf(p[0]), unit, Integer.parseInt(p[2]), Long.parseLong(p[3]), Long.parseLong(p[4])));
                }
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (--out FILE --c-source FILE [--smoke])");
            }
        }
        if (out == null || source == null) throw new IllegalArgumentException("--out FILE and --c-source FILE are needed");
        Path floor = compile(source, out.toAbsolutePath().getParent());
        List<Row> rows = new ArrayList<>();
        Latency simExit = simExit(smoke ? 2000 : 50_000);
        System.out.printf("conversion-cost: the software KVM's exit round trip without Janus: p50 %.1f us%n", simExit.p50() / 1e3);
        for (Config c : only.isEmpty() ? configs(smoke) : only) {
            System.out.printf("conversion-cost: %s %s x%d ...%n", c.strategy().label(), c.unitName(), c.vcpus());
            Side f = floor(floor, c);
            Side j = janus(c);
            rows.add(new Row(c.strategy().name(), c.unitName(), c.unit(), c.vcpus(), j, f));
            System.out.printf("  janus p50 %.1f us (request %.1f us), floor p50 %.1f us (op %.1f us); allocated/conv %.2f vs %.2f%n",
                    j.total().p50() / 1e3, j.request().p50() / 1e3, f.total().p50() / 1e3, f.request().p50() / 1e3,
                    j.pagesAllocatedPerConversion(), f.pagesAllocatedPerConversion());
        }
        Results.write(out, new Json(rows, gccVersion(), smoke, simExit));
    }

    static List<Config> configs(boolean smoke) {
        List<Config> out = new ArrayList<>();
        for (Strategy s : Strategy.values()) {
            if (smoke) {
                out.add(new Config(s, K4, 1, 64, 64));
                out.add(new Config(s, M2, 1, 2, 4));
                out.add(new Config(s, K4, 2, 64, 32));
                continue;
            }
            for (int vcpus : new int[] {1, 2}) {
                out.add(new Config(s, K4, vcpus, 1024, 4000));
                out.add(new Config(s, M2, vcpus, 16, 200));
                out.add(new Config(s, G1, vcpus, 1, 6));
            }
        }
        if (smoke) out.add(new Config(Strategy.IN_PLACE, G1, 1, 1, 2));
        return out;
    }

    /**
     * The software KVM's exit round trip with no VMM work: a vCPU whose guest calls MAP_GPA_RANGE {@code n} times, each
     * exit answered at once by a bare KVM_RUN loop (no dispatcher, no conversion). The guest times each call.
     */
    static Latency simExit(int n) {
        SimKvm kvm = SimKvm.create(org.janus.kvm.sim.SimProfile.INPLACE, SimHardware.X86);
        Histogram h = new Histogram(3_600_000_000_000L, 3);
        try (org.janus.kvm.api.KvmVm vm = kvm.createVm(org.janus.kvm.api.VmType.X86_SW_PROTECTED)) {
            vm.enableCap(org.janus.kvm.api.EnableCap.of(org.janus.kvm.api.KvmCap.EXIT_HYPERCALL,
                    1L << org.janus.kvm.api.Hypercalls.KVM_HC_MAP_GPA_RANGE));
            org.janus.kvm.sim.SimVcpu vcpu = (org.janus.kvm.sim.SimVcpu) vm.createVcpu(0);
            vcpu.load(cpu -> {
                for (int i = 0; i < n; i++) {
                    long t0 = System.nanoTime();
                    cpu.mapGpaRange(0, 1, org.janus.kvm.api.Hypercalls.MAP_GPA_RANGE_DECRYPTED);
                    h.recordValue(System.nanoTime() - t0);
                }
                cpu.hlt();
            });
            while (true) {
                org.janus.kvm.api.VcpuExit e = vcpu.run();
                if (e instanceof org.janus.kvm.api.VcpuExit.Hypercall) vcpu.completeHypercall(0);
                else if (e instanceof org.janus.kvm.api.VcpuExit.Hlt) break;
                else throw new IllegalStateException("the bare loop got " + e);
            }
            vcpu.close();
        }
        return latency(h, h.getMean());
    }

    // ---- the floor ----

    static Path compile(Path source, Path dir) throws IOException, InterruptedException {
        Path bin = dir.resolve("conversion_floor");
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("gcc", "-O2", "-Wall", "-Werror", "-o", bin.toString(), source.toString(), "-lpthread")
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException("gcc could not build the floor " + source + ":\n" + log);
        return bin;
    }

    static String gccVersion() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
        String first = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().findFirst().orElse("");
        p.waitFor();
        return first;
    }

    static Side floor(Path bin, Config c) throws IOException, InterruptedException {
        String mode = switch (c.strategy()) {
            case IN_PLACE -> "inplace";
            case LEGACY_DISCARD -> "legacy-discard";
            case LEGACY_KEEP -> "legacy-keep";
        };
        Process p = new ProcessBuilder(bin.toString(), mode, Long.toString(c.unit()), Long.toString(c.unitsPerVcpu()),
                Long.toString(c.conversionsPerVcpu()), Integer.toString(c.vcpus())).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) throw new IllegalStateException("the floor failed for " + c + ": " + text);
        JsonObject o = JsonParser.parseString(text).getAsJsonObject();
        long n = o.get("conversions").getAsLong();
        return new Side(n, o.get("conversionsPerSecond").getAsDouble(), latency(o.getAsJsonObject("op"), n), latency(o.getAsJsonObject("total"), n),
                o.get("pagesAllocated").getAsDouble() / n, o.get("pagesFreed").getAsDouble() / n, null);
    }

    private static Latency latency(JsonObject o, long n) {
        return new Latency(o.get("p50").getAsLong(), o.get("p99").getAsLong(), o.get("max").getAsLong(), o.get("sumNanos").getAsDouble() / n);
    }

    // ---- Janus ----

    static Side janus(Config c) throws Exception {
        long size = c.unit() * c.unitsPerVcpu() * c.vcpus();
        boolean inPlace = c.strategy() == Strategy.IN_PLACE;
        BenchGuest.Factory guest = new BenchGuest.Factory(c.unit(), c.conversionsPerVcpu(), inPlace ? null : "janus-ram-shared", "kvm-gmem-sim");
        SimKvm kvm = SimKvm.create(c.strategy().profile(), SimHardware.X86);
        ServiceDirectory services = new ServiceDirectory().addKvm(kvm).addPlatform(new NonePlatform()).addPlatform(new SwProtectedPlatform())
                .addBackend(inPlace ? new GuestMemfdBackend() : new LegacyBackend(c.strategy() == Strategy.LEGACY_DISCARD))
                .addGuest("conversion-bench", guest);
        VmManagerImpl manager = new VmManagerImpl(services);
        String json = """
                { "name": "conversion-cost",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "x86" },
                  "platform": { "id": "sw-protected", "initialState": "shared" },
                  "memory": { "backend": "%s", "ram": [ { "name": "ram", "gpa": 0, "size": %d } ] },
                  "vcpus": { "count": %d },
                  "guest": { "program": "conversion-bench" } }
                """.formatted(c.strategy().profile().id(), inPlace ? "guest-memfd" : "legacy", size, c.vcpus());
        String id = manager.create(MachineSpec.parse(json, Path.of(".")));
        manager.start(id);
        RunSummary s = manager.awaitEnd(id, Duration.ofMinutes(30));
        if (!s.endedNormally() || guest.results.size() != c.vcpus())
            throw new IllegalStateException(c + ": the VM ended " + s.end() + " with " + guest.results.size() + " of " + c.vcpus() + " vCPUs' results");
        Histogram request = new Histogram(3_600_000_000_000L, 3), total = new Histogram(3_600_000_000_000L, 3);
        Histogram noop = new Histogram(3_600_000_000_000L, 3);
        long n = 0, requestNanos = 0, totalNanos = 0, allocated = 0, freed = 0;
        double perSecond = 0;
        for (BenchGuest.Measured m : guest.results.values()) {
            request.add(m.request);
            total.add(m.total);
            noop.add(m.noop);
            n += m.conversions;
            requestNanos += m.requestNanos;
            totalNanos += m.totalNanos;
            allocated += m.pagesAllocated;
            freed += m.pagesFreed;
            perSecond += m.conversions / (m.totalNanos / 1e9);
        }
        return new Side(n, perSecond, latency(request, requestNanos / (double) n), latency(total, totalNanos / (double) n),
                allocated / (double) n, freed / (double) n, latency(noop, noop.getMean()));
    }

    private static Latency latency(Histogram h, double mean) {
        return new Latency(h.getValueAtPercentile(50), h.getValueAtPercentile(99), h.getMaxValue(), mean);
    }
}
