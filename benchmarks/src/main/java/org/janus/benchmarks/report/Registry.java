package org.janus.benchmarks.report;

import java.util.List;
import org.janus.benchmarks.ConversionFootprint;
import org.janus.benchmarks.conversion.ConversionCost;
import org.janus.benchmarks.memory.GuestMemory;
import org.janus.benchmarks.sections.MemorySection;
import org.janus.benchmarks.sections.ConversionCostSection;
import org.janus.benchmarks.sections.EngineSection;
import org.janus.benchmarks.sections.FootprintSection;

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
            Step.main("conversion-footprint", ConversionFootprint.class, List.of("-Xmx512m"),
                    List.of("1024", "--out", "{results}/" + FootprintSection.FILE),
                    List.of("8", "--out", "{results}/" + FootprintSection.FILE), 20),
            Step.jmh("engine", "EngineConversionBenchmark",
                    List.of("-f", "1", "-wi", "3", "-w", "2s", "-i", "5", "-r", "2s"),
                    List.of("-f", "1", "-wi", "1", "-w", "200ms", "-i", "1", "-r", "200ms"), 20));

    /** The report's sections, in order. */
    public static final List<Section> SECTIONS = List.of(
            new ConversionCostSection(),
            new EngineSection(),
            new MemorySection(),
            new FootprintSection());
}
