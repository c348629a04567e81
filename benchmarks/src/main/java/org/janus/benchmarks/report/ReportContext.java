package org.janus.benchmarks.report;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a {@link Section} renders from: the results directory, where its charts go, and how the Markdown links them.
 *
 * @param results the directory the benchmarks wrote their results into
 * @param chartDirectory where PNG charts are written
 * @param chartLink the chart directory as the report's Markdown links it (relative to the report)
 * @param smoke whether the results come from a smoke run (tiny sizes: the figures mean nothing)
 */
public record ReportContext(Path results, Path chartDirectory, String chartLink, boolean smoke) {
    /** A results file of the section, parsed as JSON. */
    public JsonElement json(String file) throws IOException {
        return JsonParser.parseString(Files.readString(results.resolve(file), StandardCharsets.UTF_8));
    }

    /** Where a chart named {@code name} (without extension) is written. */
    public Path chartFile(String name) { return chartDirectory.resolve(name + ".png"); }

    /** The Markdown image of chart {@code name}. */
    public String chartImage(String name, String alt) { return "![" + alt + "](" + chartLink + "/" + name + ".png)"; }
}
