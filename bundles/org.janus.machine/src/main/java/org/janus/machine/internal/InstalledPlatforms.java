package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.janus.kvm.api.Kvm;
import org.janus.platform.api.ConfidentialPlatform;

/**
 * Every platform service registered now, the bundle it comes from, and whether the host behind a KVM can run its
 * VMs and why, in the platform's own words ({@link ConfidentialPlatform#support}).
 */
final class InstalledPlatforms {
    /** One platform service. */
    record Entry(String id, String bundle, String version, int ranking, boolean preferred, boolean available, String reason) {}

    private InstalledPlatforms() {}

    static List<Entry> on(ServiceDirectory services, Kvm kvm) {
        List<Entry> out = new ArrayList<>();
        for (ServiceDirectory.Registration<ConfidentialPlatform> r : services.platformRegistrations()) {
            ConfidentialPlatform.Support s;
            try {
                s = r.service().support(kvm);
            } catch (RuntimeException e) {
                s = ConfidentialPlatform.Support.no("its support check failed: " + e);
            }
            out.add(new Entry(r.name(), r.origin().bundle(), r.origin().version(), r.ranking(), r.preferred(), s.supported(), s.reason()));
        }
        return out;
    }

    /** The KVM {@code provider} names ({@code auto}: the real kernel where registered, else the software KVM). */
    static Optional<Kvm> kvm(ServiceDirectory services, String provider) {
        if (provider.equals("auto")) return services.kvm("linux").or(() -> services.kvm("sim"));
        return services.kvm(provider);
    }

    static String text(List<Entry> entries, Kvm kvm) {
        StringBuilder b = new StringBuilder("Installed platforms (on " + kvm.description() + ")\n");
        if (entries.isEmpty()) return b.append("  none\n").toString();
        int idWidth = entries.stream().mapToInt(e -> e.id().length()).max().orElse(0);
        int bundleWidth = entries.stream().mapToInt(e -> label(e).length()).max().orElse(0);
        for (Entry e : entries) {
            b.append("  ").append(pad(e.id(), idWidth)).append("  ").append(pad(label(e), bundleWidth)).append("  ")
                    .append(e.available() ? "available: " : "not available: ").append(e.reason())
                    .append(e.preferred() ? "" : " (not preferred: another service of this id ranks higher)").append('\n');
        }
        return b.toString();
    }

    private static String label(Entry e) { return e.bundle().isEmpty() ? "(no bundle)" : e.bundle() + " " + e.version(); }

    private static String pad(String s, int width) { return s + " ".repeat(Math.max(0, width - s.length())); }

    /** The entries as a JSON array (written by hand: a handful of strings, booleans and numbers). */
    static String json(List<Entry> entries) {
        StringBuilder b = new StringBuilder("[");
        for (Entry e : entries) {
            if (b.length() > 1) b.append(',');
            b.append("{\"id\":").append(quote(e.id())).append(",\"bundle\":").append(quote(e.bundle())).append(",\"version\":")
                    .append(quote(e.version())).append(",\"ranking\":").append(e.ranking()).append(",\"preferred\":").append(e.preferred())
                    .append(",\"available\":").append(e.available()).append(",\"reason\":").append(quote(e.reason())).append('}');
        }
        return b.append(']').toString();
    }

    private static String quote(String s) { return new com.google.gson.JsonPrimitive(s == null ? "" : s).toString(); }
}
