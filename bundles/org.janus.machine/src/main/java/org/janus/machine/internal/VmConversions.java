package org.janus.machine.internal;

/**
 * The one door to a VM's {@link ConversionEngine}: requests from every vCPU and from the platform are handled one
 * at a time, so that a multi-region request and its rollback never interleave with another, and each is counted.
 * Its lock is also what a backend swap holds while the RAM changes hands.
 */
final class VmConversions {
    private ConversionEngine engine;
    private final ConversionCounters counters = new ConversionCounters();

    VmConversions(ConversionEngine engine) { this.engine = engine; }

    synchronized ConversionEngine engine() { return engine; }

    /** After a backend swap: later requests go to the RAM that took over. A request in flight finished before. */
    synchronized void replaceEngine(ConversionEngine replacement) { engine = replacement; }

    ConversionCounters counters() { return counters; }

    synchronized ConversionOutcome handle(ConversionRequest request) {
        ConversionOutcome outcome = engine.handle(request);
        counters.record(request, outcome);
        return outcome;
    }
}
