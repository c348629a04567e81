package org.janus.machine.internal;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** KVM exits counted per vCPU and kind ({@code io-out}, {@code hypercall}, {@code memory-fault}, ...). */
final class ExitCounters {
    private final Map<Integer, Map<String, LongAdder>> counts = new ConcurrentHashMap<>();
    private final LongAdder total = new LongAdder();

    /** Exits of every vCPU and kind so far. */
    long total() { return total.sum(); }

    /** Exits of one vCPU so far. */
    long total(int vcpu) { return counts.getOrDefault(vcpu, Map.of()).values().stream().mapToLong(LongAdder::sum).sum(); }

    void count(int vcpu, String kind) {
        total.increment();
        counts.computeIfAbsent(vcpu, v -> new ConcurrentHashMap<>()).computeIfAbsent(kind, k -> new LongAdder()).increment();
    }

    long get(int vcpu, String kind) {
        LongAdder a = counts.getOrDefault(vcpu, Map.of()).get(kind);
        return a == null ? 0 : a.sum();
    }

    /** The counts of one vCPU, by kind in alphabetical order. */
    Map<String, Long> of(int vcpu) {
        Map<String, Long> out = new LinkedHashMap<>();
        new TreeMap<>(counts.getOrDefault(vcpu, Map.of())).forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }
}
