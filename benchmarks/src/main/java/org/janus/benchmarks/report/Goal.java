package org.janus.benchmarks.report;

/**
 * A goal of the report next to the figure measured for it.
 *
 * @param what what is measured, e.g. "4K conversion, in place, 1 vCPU: Janus / floor"
 * @param target the goal as written in the issue, e.g. "≤ 1.2×"
 * @param measured the figure, e.g. "1.13×"
 * @param status whether the figure meets the goal
 * @param note what bounds the figure where the goal is not met (with the evidence), or "" otherwise
 */
public record Goal(String what, String target, String measured, Status status, String note) {
    /** Whether a figure meets its goal. */
    public enum Status {
        MET("met"), NOT_MET("**not met**"), NOT_MEASURED("not measured"), SHOWN("shown");

        final String label;

        Status(String label) { this.label = label; }

        public String label() { return label; }
    }

    public static Goal check(String what, String target, String measured, boolean met, String noteIfNot) {
        return new Goal(what, target, measured, met ? Status.MET : Status.NOT_MET, met ? "" : noteIfNot);
    }

    public static Goal notMeasured(String what, String why) { return new Goal(what, "", "", Status.NOT_MEASURED, why); }
}
