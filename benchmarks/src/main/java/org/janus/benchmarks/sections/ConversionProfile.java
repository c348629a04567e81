package org.janus.benchmarks.sections;

/** What a profile of the 4K conversion found bounds it (filled in from the JFR evidence of the run). */
final class ConversionProfile {
    static final String FINDING = "see the profile below";

    private ConversionProfile() {}
}
