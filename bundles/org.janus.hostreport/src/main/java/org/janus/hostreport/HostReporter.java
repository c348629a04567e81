package org.janus.hostreport;

import org.janus.kvm.api.Kvm;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Probes a KVM provider and renders the result. A service; front-ends outside the framework use the
 * {@code janus.command=host-report} service instead, a {@code java.util.function.Function<List<String>, String>}
 * that needs no shared classes.
 */
@ProviderType
public interface HostReporter {
    /** Service property naming a front-end command implemented as {@code Function<List<String>, String>}. */
    String COMMAND = "janus.command";
    /** The value of {@link #COMMAND} for the host report. */
    String HOST_REPORT = "host-report";

    /**
     * Probes {@code kvm}: one VM of each supported type is created, asked and closed again.
     *
     * @throws org.janus.kvm.api.KvmException when a system-scope ioctl fails; per-type failures are recorded in
     *         {@link VmTypeReport#createError()}
     */
    HostReport probe(Kvm kvm);

    /** The report as text for a terminal. */
    String text(HostReport report);

    /** The report as JSON. */
    String json(HostReport report);
}
