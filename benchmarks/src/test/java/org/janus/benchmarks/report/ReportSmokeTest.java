package org.janus.benchmarks.report;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Map;
import org.janus.benchmarks.ConversionFootprint;
import org.janus.benchmarks.sections.FootprintSection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report renders from results: a section with its file shows its tables and chart, one without says so. */
class ReportSmokeTest {
    @Test
    void aSectionWithResultsRendersAndOneWithoutIsNamedNotMeasured(@TempDir Path dir) throws Exception {
        Path results = Files.createDirectories(dir.resolve("results"));
        long size = 4 * ConversionFootprint.MIB;
        Results.write(results.resolve(FootprintSection.FILE), new ConversionFootprint.Json(size, ConversionFootprint.run(size)));
        ReportContext c = new ReportContext(results, dir.resolve("charts"), "charts", true);
        String md = Report.write(c, new Machine(Map.of("CPU", "test")), ZonedDateTime.of(2026, 1, 2, 3, 4, 0, 0, ZoneOffset.UTC));
        assertTrue(md.contains("| date | 2026-01-02 03:04 UTC |"), md);
        assertTrue(md.contains("**Smoke run**"), md);
        assertTrue(md.contains("| guest wrote every page (private) | 4.0 | 4.0 | 4.0 | 4.0 | 8.0 | 8.0 |"), md);
        assertTrue(md.contains("![allocated memory per phase and strategy](charts/footprint.png)"), md);
        assertTrue(Files.size(dir.resolve("charts/footprint.png")) > 1000, "the chart is a PNG");
        assertTrue(md.contains("Not measured in this run: no " + org.janus.benchmarks.sections.EngineSection.FILE), md);
    }
}
