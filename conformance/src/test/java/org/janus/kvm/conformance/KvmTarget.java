package org.janus.kvm.conformance;

import java.util.function.Supplier;
import org.janus.kvm.api.Kvm;

/**
 * One KVM implementation the suite runs against: a name ({@code sim:7.3/amd-snp}, {@code linux}) and a factory
 * that opens a fresh {@link Kvm} for each test.
 */
public record KvmTarget(String name, Supplier<Kvm> factory) {

    /** Opens a fresh provider instance; close it with {@link #close(Kvm)}. */
    public Kvm open() {
        return factory.get();
    }

    /** Releases what {@link #open()} returned, where the provider holds something (the /dev/kvm descriptor). */
    public static void close(Kvm kvm) throws Exception {
        if (kvm instanceof AutoCloseable closeable) closeable.close();
    }

    /** Whether a selection entry names this target: the full name, or a prefix ending at ':' or '/'. */
    public boolean matches(String selection) {
        if (name.equals(selection)) return true;
        if (!name.startsWith(selection)) return false;
        char next = name.charAt(selection.length());
        return next == ':' || next == '/' || selection.endsWith(":") || selection.endsWith("/");
    }

    @Override public String toString() { return name; }
}
