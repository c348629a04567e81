package org.janus.benchmarks.vcpu;

import java.util.concurrent.TimeUnit;
import org.janus.machine.RunSummary;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Exit-handling throughput of the machine with 1, 2, 4 and 8 vCPUs on the software KVM ({@link ExitStorm}): one
 * invocation starts a VM (created beforehand, vCPUs parked) whose every vCPU makes {@code exitsPerVcpu} exits and
 * halts, and ends when the VM has ended. Exits per second = vCPUs x (exitsPerVcpu + 1) / the time (the +1 is the
 * HLT); the report computes it from the score. Where it stops scaling, and why, is {@link ExitProfile}'s.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Thread)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@Warmup(iterations = 3)
@Measurement(iterations = 8)
public class ExitScaling {
    @Param({"1", "2", "4", "8"})
    public int vcpus;

    @Param({"IO", "CONVERSION"})
    public ExitStorm.Kind kind;

    @Param({"20000"})
    public int exitsPerVcpu;

    private ExitStorm storm;
    private String vm;

    @Setup(Level.Trial)
    public void manager() { storm = new ExitStorm(kind, vcpus, exitsPerVcpu); }

    @Setup(Level.Invocation)
    public void create() throws Exception { vm = storm.create(); }

    @Benchmark
    public RunSummary storm() throws Exception { return storm.run(vm); }

    @TearDown(Level.Trial)
    public void close() { storm.close(); }
}
