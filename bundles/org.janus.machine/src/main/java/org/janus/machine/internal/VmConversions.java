package org.janus.machine.internal;

/**
 * The one door to a VM's {@link ConversionEngine}: requests from every vCPU and from the platform are handled one
 * at a time, so that a multi-region request and its rollback never interleave with another, and each is counted.
 */
final class VmConversions {
    private final ConversionEngine engine;
    private final ConversionCounters counters = new ConversionCounters();

    VmConversions(ConversionEngine engine) { this.engine = engine; }

    ConversionEngine engine() { return engine; }

    ConversionCounters counters() { return counters; }

    synchronized ConversionOutcome handle(ConversionRequest request) {
        ConversionOutcome outcome = engine.handle(request);
        counters.record(request, outcome);
        return outcome;
    }
}
