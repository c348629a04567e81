package org.janus.hostreport.internal;

import org.janus.hostreport.HostReport;
import org.janus.hostreport.HostReporter;
import org.janus.kvm.api.Kvm;
import org.osgi.service.component.annotations.Component;

@Component(service = HostReporter.class)
public final class DefaultHostReporter implements HostReporter {
    private final HostProber prober = new HostProber();
    private final TextRenderer text = new TextRenderer();
    private final JsonCodec json = new JsonCodec();

    @Override
    public HostReport probe(Kvm kvm) {
        return prober.probe(kvm);
    }

    @Override
    public String text(HostReport report) {
        return text.render(report);
    }

    @Override
    public String json(HostReport report) {
        return json.toJson(report);
    }
}
