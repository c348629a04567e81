package org.janus.kvm.linux.internal;

import java.util.Dictionary;
import java.util.Hashtable;
import org.janus.kvm.api.Kvm;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * Registers the real KVM as the {@link Kvm} service ({@code janus.kvm.provider=linux}) when /dev/kvm opens and
 * speaks API version 12; otherwise logs why and registers nothing. Immediate, so that the probe runs at start-up
 * rather than on first use; the registration is made by hand because whether there is a service at all is
 * what the probe decides.
 */
@Component(immediate = true, service = {})
public class LinuxKvmComponent {
    /**
     * Framework property naming the device to probe instead of /dev/kvm (tests use a missing path to see the
     * component register nothing).
     */
    public static final String DEVICE_PROPERTY = "janus.kvm.linux.device";
    private static final System.Logger LOG = System.getLogger(LinuxKvmComponent.class.getName());

    private LinuxKvm kvm;
    private ServiceRegistration<Kvm> registration;

    @Activate
    void activate(BundleContext context) {
        String device = context.getProperty(DEVICE_PROPERTY);
        LinuxKvmProbe probe = LinuxKvmProbe.of(device == null || device.isBlank() ? LinuxKvm.DEVICE : device);
        if (!probe.usable()) {
            LOG.log(System.Logger.Level.INFO, "org.janus.kvm.linux: no Kvm service registered: " + probe.reason());
            return;
        }
        kvm = probe.kvm();
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(Kvm.PROVIDER, kvm.provider());
        registration = context.registerService(Kvm.class, kvm, props);
        LOG.log(System.Logger.Level.INFO, "org.janus.kvm.linux: Kvm service registered for " + kvm.description());
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the framework unregisters a stopping bundle's services itself
            }
            registration = null;
        }
        if (kvm != null) {
            kvm.close();
            kvm = null;
        }
    }
}
