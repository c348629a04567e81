package org.janus.kvm.sim.internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;

/**
 * Injected failures: the (afterCalls+1)-th call of an operation that has passed its argument checks fails with
 * the given errno and changes nothing. Each fault fires once.
 */
final class FaultInjector {
    private static final class Fault {
        final String operation;
        final int errno;
        int remaining;

        Fault(String operation, int errno, int remaining) {
            this.operation = operation;
            this.errno = errno;
            this.remaining = remaining;
        }
    }

    private final List<Fault> faults = new ArrayList<>();
    /**
     * Faults waiting to fire: while none is, a call is only counted, without the lock every vCPU's calls would
     * otherwise queue on.
     */
    private volatile int armed;
    /** Calls of each operation that could have failed, since the host was made: where a fault can be put. */
    private final Map<String, LongAdder> calls = new ConcurrentHashMap<>();
    private long fired;

    synchronized void inject(String operation, int errno, int afterCalls) {
        if (operation == null || operation.isEmpty()) throw new IllegalArgumentException("operation is empty");
        if (errno <= 0) throw new IllegalArgumentException("errno must be positive, got " + errno);
        if (afterCalls < 0) throw new IllegalArgumentException("afterCalls must be >= 0, got " + afterCalls);
        faults.add(new Fault(operation, errno, afterCalls));
        armed = faults.size();
    }

    synchronized void clear() {
        faults.clear();
        armed = 0;
    }

    /** Counts a call of {@code operation}; returns the errno to fail it with, or 0. */
    int next(String operation) {
        calls.computeIfAbsent(operation, k -> new LongAdder()).increment();
        return armed == 0 ? 0 : due(operation);
    }

    private synchronized int due(String operation) {
        int fire = 0;
        for (Iterator<Fault> it = faults.iterator(); it.hasNext(); ) {
            Fault f = it.next();
            if (!f.operation.equals(operation)) continue;
            if (f.remaining == 0) {
                if (fire == 0) {
                    fire = f.errno;
                    it.remove();
                }
            } else {
                f.remaining--;
            }
        }
        if (fire != 0) fired++;
        armed = faults.size();
        return fire;
    }

    /** How often each operation has been called (and so could have been failed), by operation name. */
    Map<String, Long> calls() {
        Map<String, Long> snapshot = new TreeMap<>();
        calls.forEach((operation, n) -> snapshot.put(operation, n.sum()));
        return snapshot;
    }

    /** How many injected faults have fired. */
    synchronized long fired() { return fired; }

    /** Counts a call and throws the injected failure if one is due. */
    void check(String operation) {
        int errno = next(operation);
        if (errno != 0) throw new KvmException(operation, errno, "injected fault (" + Errno.name(errno) + ")");
    }
}
