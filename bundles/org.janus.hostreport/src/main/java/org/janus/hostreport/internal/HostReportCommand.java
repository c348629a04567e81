package org.janus.hostreport.internal;

import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import org.janus.hostreport.HostReport;
import org.janus.hostreport.HostReporter;
import org.janus.kvm.api.Kvm;
import org.osgi.service.component.ComponentServiceObjects;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The host report as a front-end command: a {@code Function<List<String>, String>} registered with
 * {@code janus.command=host-report}, so that the launcher, which runs outside the framework and shares no classes
 * with it, can call it with JDK types only. Registered only while some {@link Kvm} provider is.
 *
 * <p>Arguments: {@code [--json] [--provider auto|linux|sim]}. {@code auto} prefers the real kernel. Bad
 * arguments throw {@link IllegalArgumentException}; a missing provider {@link IllegalStateException}; both with
 * a message meant for the user.
 */
@Component(service = Function.class, property = {
    HostReporter.COMMAND + "=" + HostReporter.HOST_REPORT,
    "janus.command.usage=" + HostReportCommand.USAGE
})
public final class HostReportCommand implements Function<List<String>, String> {
    static final String USAGE = "host-report [--json] [--provider auto|linux|sim]";

    @Reference
    private HostReporter reporter;

    @Reference(service = Kvm.class, cardinality = ReferenceCardinality.AT_LEAST_ONE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile List<ComponentServiceObjects<Kvm>> providers;

    @Override
    public String apply(List<String> args) {
        Options options = Options.parse(args);
        Selection selection = select(options.provider(), List.copyOf(providers));
        Kvm kvm = selection.provider().getService();
        if (kvm == null) {
            throw new IllegalStateException("the " + selection.name() + " KVM provider is registered but could not "
                    + "be activated; see the framework log");
        }
        try {
            HostReport report = reporter.probe(kvm);
            if (options.json()) return reporter.json(report);
            return "Janus host report (" + selection.why() + ")\n\n" + reporter.text(report);
        } finally {
            selection.provider().ungetService(kvm);
        }
    }

    record Options(boolean json, String provider) {
        static Options parse(List<String> args) {
            boolean json = false;
            String provider = "auto";
            for (int i = 0; i < args.size(); i++) {
                String arg = args.get(i);
                switch (arg) {
                    case "--json" -> json = true;
                    case "--provider" -> {
                        if (i + 1 >= args.size()) throw new IllegalArgumentException("--provider needs a value; usage: " + USAGE);
                        provider = args.get(++i);
                        if (!List.of("auto", "linux", "sim").contains(provider)) {
                            throw new IllegalArgumentException("--provider " + provider
                                    + ": expected auto, linux or sim; usage: " + USAGE);
                        }
                    }
                    default -> throw new IllegalArgumentException("unknown argument " + arg + "; usage: " + USAGE);
                }
            }
            return new Options(json, provider);
        }
    }

    record Selection(ComponentServiceObjects<Kvm> provider, String name, String why) {}

    static Selection select(String wanted, List<ComponentServiceObjects<Kvm>> candidates) {
        if (wanted.equals("auto")) {
            ComponentServiceObjects<Kvm> linux = best(candidates, "linux");
            if (linux != null) return new Selection(linux, "linux", "provider linux, chosen automatically: the real kernel");
            ComponentServiceObjects<Kvm> sim = best(candidates, "sim");
            if (sim != null) return new Selection(sim, "sim", "provider sim, chosen automatically: no linux provider registered, which happens where /dev/kvm does not open");
            throw new IllegalStateException("no KVM provider registered");
        }
        ComponentServiceObjects<Kvm> chosen = best(candidates, wanted);
        if (chosen == null) {
            throw new IllegalStateException("no " + wanted + " KVM provider registered"
                    + (wanted.equals("linux") ? " (it registers only where /dev/kvm opens)" : ""));
        }
        return new Selection(chosen, wanted, "provider " + wanted + ": requested");
    }

    /** The provider's service with the highest ranking, or null. */
    private static ComponentServiceObjects<Kvm> best(List<ComponentServiceObjects<Kvm>> candidates, String provider) {
        return candidates.stream()
                .filter(c -> provider.equals(c.getServiceReference().getProperty(Kvm.PROVIDER)))
                .max(Comparator.comparing(ComponentServiceObjects::getServiceReference))
                .orElse(null);
    }
}
