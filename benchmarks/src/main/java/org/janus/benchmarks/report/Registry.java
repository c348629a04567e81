package org.janus.benchmarks.report;

import java.util.List;
import org.janus.benchmarks.ConversionFootprint;
import org.janus.benchmarks.conversion.ConversionCost;
import org.janus.benchmarks.memory.GuestMemory;
import org.janus.benchmarks.sections.HugePagesSection;
import org.janus.benchmarks.sections.MemorySection;
import org.janus.benchmarks.sections.ConversionCostSection;
import org.janus.benchmarks.sections.EngineSection;
import org.janus.benchmarks.sections.FootprintSection;
import org.janus.benchmarks.sections.ExitScalingSection;
import org.janus.benchmarks.sections.NestedSection;
import org.janus.benchmarks.sections.StartupSection;
import org.janus.benchmarks.sections.TrackerScaleSection;
import org.janus.benchmarks.scale.TrackerFootprint;
import org.janus.benchmarks.startup.StartupTime;
import org.janus.benchmarks.vcpu.ExitProfile;

/**
 * The one list of the report: what {@code tools/benchmarks.sh} runs ({@link #STEPS}) and what the report shows
 * ({@link #SECTIONS}), in order. A new benchmark adds a step that writes a results file under {@code {results}} and a
 * section that reads it (benchmarks/README.md).
 */
public final class Registry {
    private Registry() {}

    /** Every benchmark run, in order; each holds the build lock only while it runs. */
    public static final List<Step> STEPS = List.of(
            Step.main("conversion-cost", ConversionCost.class, List.of("-Xmx1g"),
                    List.of("--out", "{results}/" + ConversionCostSection.FILE, "--c-source", "{repo}/benchmarks/src/main/c/conversion_floor.c"),
                    List.of("--smoke", "--out", "{results}/" + ConversionCostSection.FILE, "--c-source",
                            "{repo}/benchmarks/src/main/c/conversion_floor.c"), 45),
            Step.main("memory", GuestMemory.class, List.of("-Xmx256m"),
                    List.of("--out", "{results}/" + MemorySection.FILE, "--ovmf", "{ovmf}"),
                    List.of("--smoke", "--out", "{results}/" + MemorySection.FILE, "--ovmf", "{ovmf}"), 60),
            Step.main("huge-pages", GuestMemory.class, List.of("-Xmx256m"),
                    List.of("--huge", "--out", "{results}/" + HugePagesSection.FILE, "--ovmf", "{ovmf}"),
                    List.of("--huge", "--smoke", "--out", "{results}/" + HugePagesSection.FILE, "--ovmf", "{ovmf}"), 30),
            Step.main("conversion-footprint", ConversionFootprint.class, List.of("-Xmx512m"),
                    List.of("1024", "--out", "{results}/" + FootprintSection.FILE),
                    List.of("8", "--out", "{results}/" + FootprintSection.FILE), 20),
            Step.jmh("engine", "EngineConversionBenchmark",
                    List.of("-f", "1", "-wi", "3", "-w", "2s", "-i", "5", "-r", "2s",
                            "-jvmArgsAppend", "-XX:StartFlightRecording=filename={results}/engine.jfr,settings=profile"),
                    List.of("-f", "1", "-wi", "1", "-w", "200ms", "-i", "1", "-r", "200ms",
                            "-jvmArgsAppend", "-XX:StartFlightRecording=filename={results}/engine.jfr,settings=profile"), 20),
            // Scale, start-up and the nested figure (engineer D).
            Step.jmh("tracker-scale", "PageStateScale",
                    List.of("-f", "1", "-wi", "5", "-w", "2s", "-i", "5", "-r", "2s"),
                    List.of("-f", "1", "-wi", "1", "-w", "200ms", "-i", "1", "-r", "200ms"), 15),
            Step.main("tracker-footprint", TrackerFootprint.class, List.of("-Xmx3g", "-Djdk.attach.allowAttachSelf=true"),
                    List.of("--out", "{results}/" + TrackerScaleSection.FOOTPRINT), List.of("--out", "{results}/" + TrackerScaleSection.FOOTPRINT), 10),
            Step.jmh("exit-scaling", "ExitScaling",
                    List.of("-f", "1", "-wi", "2", "-i", "8"),
                    List.of("-f", "1", "-wi", "0", "-i", "1", "-p", "exitsPerVcpu=200"), 20),
            Step.main("exit-profile", ExitProfile.class, List.of("-Xmx512m"),
                    List.of("--out", "{results}/" + ExitScalingSection.PROFILE, "--vcpus", "8", "--seconds", "6"),
                    List.of("--out", "{results}/" + ExitScalingSection.PROFILE, "--vcpus", "8", "--seconds", "0.5"), 10),
            // The distribution mvn install built (tools/benchmarks.sh builds it too), in three variants side by side.
            Step.main("startup", StartupTime.class, List.of(),
                    List.of("--out", "{results}/" + StartupSection.FILE, "--runs", "10",
                            "--variant", StartupSection.DEFAULT + "={repo}/runtime/target/janus",
                            "--variant", "CDS, C2 too={repo}/runtime/target/janus,JAVA_OPTS=-XX:TieredStopAtLevel=4",
                            "--variant", "without (fast start off)={repo}/runtime/target/janus,JANUS_FAST_START=off"),
                    List.of("--out", "{results}/" + StartupSection.FILE, "--runs", "1",
                            "--variant", StartupSection.DEFAULT + "={repo}/runtime/target/janus",
                            "--variant", "without (fast start off)={repo}/runtime/target/janus,JANUS_FAST_START=off"), 20),
            // Real KVM in the nested environment (root, QEMU; setup.sh prepares it). Its short version is .ci/run's own
            // line after the nested tests, so the smoke run here leaves it out.
            new Step("nested", List.of("{repo}/itests/nested-kvm/run-benchmarks.sh", "--out", "{results}"), List.of("true"), 30));

    /** The report's sections, in order. */
    public static final List<Section> SECTIONS = List.of(
            new ConversionCostSection(),
            new EngineSection(),
            new MemorySection(),
            new HugePagesSection(),
            new FootprintSection(),
            new TrackerScaleSection(),
            new ExitScalingSection(),
            new StartupSection(),
            new NestedSection());
}
