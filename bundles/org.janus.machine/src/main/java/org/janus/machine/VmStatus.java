package org.janus.machine;

import java.time.Duration;
import java.util.List;

/**
 * One VM as it is now.
 *
 * @param id the VM's id
 * @param name the spec's name
 * @param state where it is in its life (a pause says why)
 * @param platform the platform service it is bound to now (after its last swap)
 * @param backend the memory backend service it is bound to now
 * @param vcpus what each vCPU is doing and has done
 * @param ramBytes the size of all its RAM regions
 * @param privateBytes how much of it is private now; 0 once the VM has ended
 * @param conversions conversion requests so far, by source and direction
 * @param swaps how many times a platform or backend was replaced under it
 * @param ran how long it has run (from start to now, or to its end)
 * @param log the lines its platform and the machine logged about it, oldest first (bounded: the newest are kept)
 */
public record VmStatus(String id, String name, VmState state, ServiceInfo platform, ServiceInfo backend,
                       List<Vcpu> vcpus, long ramBytes, long privateBytes, List<RunSummary.ConversionCount> conversions,
                       int swaps, Duration ran, List<String> log) {
    public VmStatus {
        vcpus = List.copyOf(vcpus);
        conversions = List.copyOf(conversions);
        log = List.copyOf(log);
    }

    /**
     * One vCPU.
     *
     * @param id the vCPU id
     * @param thread the host thread's id ({@link Thread#getId()}), as QMP's {@code thread-id} reports it
     * @param phase {@code parked}, {@code running}, {@code halted} or {@code exited}
     * @param exits KVM exits handled so far
     */
    public record Vcpu(int id, long thread, String phase, long exits) {}

    /** Conversion requests carried out so far, over every source and direction. */
    public long conversionsDone() { return conversions.stream().mapToLong(RunSummary.ConversionCount::done).sum(); }
}
