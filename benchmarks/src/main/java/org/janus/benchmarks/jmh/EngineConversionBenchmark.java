package org.janus.benchmarks.jmh;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.machine.internal.ConversionEngine;
import org.janus.machine.internal.ConversionOutcome;
import org.janus.machine.internal.GuestMemoryMap;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Janus's in-process share of one conversion, without the vCPU exit loop: the machine's {@link ConversionEngine}
 * (memory map, split per region, two phases) and the backend (tracker, attributes, discard) converting one 4 KiB page
 * of a 64 MiB region on the software KVM, the pages taken in turn and each flipped to the other state. Sampled per
 * call, so the JSON has percentiles. What it leaves out (the exit, the guest's touch) the end-to-end benchmark has.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class EngineConversionBenchmark {
    private static final long PAGE = 4096;
    private static final long SIZE = 64L << 20;

    @Param({"IN_PLACE", "LEGACY_DISCARD", "LEGACY_KEEP"})
    public String strategy;

    private KvmVm vm;
    private GuestRam ram;
    private ConversionEngine engine;
    private boolean[] isPrivate;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        Strategy s = Strategy.valueOf(strategy);
        SimKvm kvm = SimKvm.create(s.profile(), SimHardware.X86);
        vm = kvm.createVm(VmType.X86_SW_PROTECTED);
        ram = s.newBackend().create(kvm, vm, new RamRegion("ram", 0, 0, SIZE), PageState.SHARED);
        // Populated: every page of the shared face written once.
        byte[] chunk = new byte[1 << 20];
        java.util.Arrays.fill(chunk, (byte) 0x5a);
        for (long at = 0; at < SIZE; at += chunk.length) ram.write(at, chunk);
        engine = new ConversionEngine(new GuestMemoryMap(List.of(ram), List.of()));
        isPrivate = new boolean[(int) (SIZE / PAGE)];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        ram.close();
        vm.close();
    }

    @Benchmark
    public ConversionOutcome convert4K() {
        int p = next;
        next = (next + 1) % isPrivate.length;
        PageState target = isPrivate[p] ? PageState.SHARED : PageState.PRIVATE;
        isPrivate[p] = !isPrivate[p];
        ConversionOutcome o = engine.convert(GpaRange.of(p * PAGE, PAGE), target);
        if (!(o instanceof ConversionOutcome.Done)) throw new IllegalStateException("conversion of page " + p + " to " + target + ": " + o);
        return o;
    }
}
