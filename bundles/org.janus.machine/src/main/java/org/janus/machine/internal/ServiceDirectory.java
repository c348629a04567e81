package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import org.janus.kvm.api.Kvm;
import org.janus.machine.GuestProgramFactory;
import org.janus.memory.api.MemoryBackend;
import org.janus.platform.api.ConfidentialPlatform;

/**
 * The services a machine is built from, each under the name its service property gives it: KVM providers
 * ({@code janus.kvm.provider}), platforms ({@code janus.platform}), memory backends ({@code janus.memory.backend})
 * and guest programs ({@code janus.guest}). The VM manager keeps it current from Declarative Services; tests fill
 * it by hand. Where several services share a name, the one added last wins until it goes.
 */
public final class ServiceDirectory {
    private record Entry<T>(String name, T service, int ranking, Origin origin, long order) {}

    /**
     * The bundle a service comes from: its symbolic name and version, both empty outside a framework. Among
     * services of one name, a higher version is preferred at equal ranking.
     */
    public record Origin(String bundle, String version) {
        public static final Origin NONE = new Origin("", "");

        /** The bundle that loaded {@code service}'s class, where there is a framework. */
        public static Origin of(Object service) {
            try {
                org.osgi.framework.Bundle b = org.osgi.framework.FrameworkUtil.getBundle(service.getClass());
                return b == null ? NONE : new Origin(b.getSymbolicName(), b.getVersion().toString());
            } catch (NoClassDefFoundError noFramework) {
                return NONE;
            }
        }

        int compareVersion(Origin other) {
            if (version.isEmpty() || other.version.isEmpty()) return 0;
            return org.osgi.framework.Version.parseVersion(version).compareTo(org.osgi.framework.Version.parseVersion(other.version));
        }
    }

    /** One registered service as {@link #registrations} lists it. */
    public record Registration<T>(String name, T service, int ranking, Origin origin, boolean preferred) {}

    private final List<Entry<Kvm>> kvms = new ArrayList<>();
    private final List<Entry<ConfidentialPlatform>> platforms = new ArrayList<>();
    private final List<Entry<MemoryBackend>> backends = new ArrayList<>();
    private final List<Entry<GuestProgramFactory>> guests = new ArrayList<>();
    private long order;

    public synchronized ServiceDirectory addKvm(String provider, Kvm kvm, int ranking) { return add(kvms, provider, kvm, ranking); }

    public synchronized void removeKvm(Kvm kvm) { remove(kvms, kvm); }

    public synchronized ServiceDirectory addPlatform(String id, ConfidentialPlatform p, int ranking) { return add(platforms, id, p, ranking); }

    public synchronized ServiceDirectory addPlatform(String id, ConfidentialPlatform p, int ranking, Origin origin) {
        return add(platforms, id, p, ranking, origin);
    }

    public synchronized void removePlatform(ConfidentialPlatform p) { remove(platforms, p); }

    public synchronized ServiceDirectory addBackend(String id, MemoryBackend b, int ranking) { return add(backends, id, b, ranking); }

    public synchronized ServiceDirectory addBackend(String id, MemoryBackend b, int ranking, Origin origin) {
        return add(backends, id, b, ranking, origin);
    }

    public synchronized void removeBackend(MemoryBackend b) { remove(backends, b); }

    public synchronized ServiceDirectory addGuest(String name, GuestProgramFactory g, int ranking) { return add(guests, name, g, ranking); }

    public synchronized void removeGuest(GuestProgramFactory g) { remove(guests, g); }

    /** Shorthands for tests: ranking 0. */
    public ServiceDirectory addKvm(Kvm kvm) { return addKvm(kvm.provider(), kvm, 0); }

    public ServiceDirectory addPlatform(ConfidentialPlatform p) { return addPlatform(p.id(), p, 0); }

    public ServiceDirectory addBackend(MemoryBackend b) { return addBackend(b.id(), b, 0); }

    public ServiceDirectory addGuest(String name, GuestProgramFactory g) { return addGuest(name, g, 0); }

    public synchronized Optional<Kvm> kvm(String provider) { return best(kvms, provider); }

    public synchronized List<Kvm> kvms(String provider) {
        return kvms.stream().filter(e -> e.name().equals(provider)).sorted(ORDER).map(Entry::service).toList();
    }

    public synchronized Optional<ConfidentialPlatform> platform(String id) { return best(platforms, id); }

    /** Every platform registered under {@code id}, the preferred first. */
    public synchronized List<ConfidentialPlatform> platforms(String id) { return all(platforms, id); }

    /** Every backend registered under {@code id}, the preferred first. */
    public synchronized List<MemoryBackend> backends(String id) { return all(backends, id); }

    public synchronized List<String> platformIds() { return names(platforms); }

    public synchronized Optional<MemoryBackend> backend(String id) { return best(backends, id); }

    public synchronized List<String> backendIds() { return names(backends); }

    public synchronized Optional<GuestProgramFactory> guest(String name) { return best(guests, name); }

    public synchronized List<String> guestNames() { return names(guests); }

    /** Every platform registered now, by id, the preferred one of each id first. */
    public synchronized List<Registration<ConfidentialPlatform>> platformRegistrations() { return registrations(platforms); }

    /** Every memory backend registered now, by id, the preferred one of each id first. */
    public synchronized List<Registration<MemoryBackend>> backendRegistrations() { return registrations(backends); }

    /** Where {@code service} (a platform or backend registered here) comes from; {@link Origin#NONE} if unknown. */
    public synchronized Origin origin(Object service) {
        for (List<? extends Entry<?>> list : List.of(platforms, backends)) {
            for (Entry<?> e : list) if (e.service() == service) return e.origin();
        }
        return Origin.NONE;
    }

    /** Whether {@code service} is registered here now (as a platform or backend). */
    public synchronized boolean isRegistered(Object service) {
        return platforms.stream().anyMatch(e -> e.service() == service) || backends.stream().anyMatch(e -> e.service() == service);
    }

    private static <T> List<Registration<T>> registrations(List<Entry<T>> list) {
        List<Registration<T>> out = new ArrayList<>();
        list.stream().map(Entry::name).distinct().sorted().forEach(name -> {
            boolean first = true;
            for (Entry<T> e : list.stream().filter(e -> e.name().equals(name)).sorted(ORDER).toList()) {
                out.add(new Registration<>(e.name(), e.service(), e.ranking(), e.origin(), first));
                first = false;
            }
        });
        return out;
    }

    /** Highest ranking first, then highest bundle version, then the latest registered. */
    private static final Comparator<Entry<?>> ORDER = Comparator.<Entry<?>>comparingInt(Entry::ranking).reversed()
            .thenComparing((a, b) -> b.origin().compareVersion(a.origin()))
            .thenComparing(Comparator.<Entry<?>>comparingLong(Entry::order).reversed());

    private <T> ServiceDirectory add(List<Entry<T>> list, String name, T service, int ranking) {
        return add(list, name, service, ranking, Origin.NONE);
    }

    private <T> ServiceDirectory add(List<Entry<T>> list, String name, T service, int ranking, Origin origin) {
        if (name == null || service == null) return this;
        list.add(new Entry<>(name, service, ranking, origin, order++));
        notifyAll();
        return this;
    }

    private <T> void remove(List<Entry<T>> list, T service) {
        list.removeIf(e -> e.service() == service);
        notifyAll();
    }

    private static <T> List<T> all(List<Entry<T>> list, String name) {
        return list.stream().filter(e -> e.name().equals(name)).sorted(ORDER).map(Entry::service).toList();
    }

    private static <T> Optional<T> best(List<Entry<T>> list, String name) {
        return list.stream().filter(e -> e.name().equals(name)).sorted(ORDER).map(Entry::service).findFirst();
    }

    private static <T> List<String> names(List<Entry<T>> list) {
        return list.stream().map(Entry::name).distinct().sorted().toList();
    }

    /**
     * Waits until {@code ready} holds (re-checked whenever a service comes or goes) or the deadline passes.
     *
     * @return whether it holds
     */
    public synchronized boolean awaitUntil(Predicate<ServiceDirectory> ready, long deadlineNanos) throws InterruptedException {
        while (!ready.test(this)) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) return false;
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }
}
