package org.janus.benchmarks.report;

import java.io.IOException;
import java.util.List;

/**
 * One part of the report: reads the results file(s) its benchmark wrote under the results directory and renders
 * Markdown, with the goals it checks. Registered in {@link Registry#SECTIONS}; the contract is in
 * {@code benchmarks/README.md}.
 */
public interface Section {
    /** The heading of the section in the report. */
    String title();

    /**
     * The results files (relative to the results directory) the section needs. When one is missing the report says
     * so in place of the section, and every goal of the section shows as not measured.
     */
    List<String> inputs();

    /** The goals this section checks, named as {@link Goal#what()} will name them, listed even when not measured. */
    List<String> goals();

    /** Renders the section from its inputs, which exist. */
    Rendered render(ReportContext context) throws IOException;

    /** Markdown (without the section's own heading) and the goals checked, each with its figure. */
    record Rendered(String markdown, List<Goal> goals) {
        public Rendered {
            goals = List.copyOf(goals);
        }
    }
}
