package org.janus.kvm.sim.internal;

import java.lang.System.Logger.Level;
import java.util.Hashtable;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Registers the software KVM as the {@link Kvm} service ({@code janus.kvm.provider=sim}) with the profile and
 * hardware from configuration PID {@value #PID}, or the defaults without Config Admin. It registers the service
 * itself, so that an invalid configuration gives a clear error and no service rather than a half-made one.
 */
@Component(immediate = true, configurationPid = SimKvmComponent.PID, service = {})
@Designate(ocd = SimKvmComponent.Config.class)
public final class SimKvmComponent {
    public static final String PID = "org.janus.kvm.sim";
    private static final System.Logger LOG = System.getLogger(SimKvmComponent.class.getName());

    @ObjectClassDefinition(name = "Janus software KVM",
            description = "The embedded reference model of Linux KVM and guest_memfd, for hosts without /dev/kvm.")
    public @interface Config {
        @AttributeDefinition(name = "Kernel profile",
                description = "The kernel the model behaves as: 6.12 (guest_memfd without flags), 7.3 (6.18+ "
                        + "semantics, VM-wide attributes), inplace (in-place conversion series as posted in v8, mode "
                        + "on), inplace-off (v8 with the mode off), 7.4 (the series as applied, built with "
                        + "CONFIG_KVM_VM_MEMORY_ATTRIBUTES, gmem_in_place_conversion=N: legacy), 7.4-inplace (the "
                        + "same build with gmem_in_place_conversion=Y), 7.4-novmattr (built without it: in-place only).")
        String profile() default "inplace";

        @AttributeDefinition(name = "Hardware",
                description = "The host the model behaves as: x86, amd-snp, intel-tdx, arm64, arm64-pkvm.")
        String hardware() default "amd-snp";
    }

    private ServiceRegistration<Kvm> registration;

    @Activate
    void activate(BundleContext context, Config config) {
        SimProfile profile;
        SimHardware hardware;
        try {
            profile = SimProfile.byId(config.profile());
        } catch (IllegalArgumentException e) {
            LOG.log(Level.ERROR, "Configuration " + PID + ": attribute 'profile' has the invalid value '" + config.profile()
                    + "'; valid values: " + SimProfile.validIds() + ". The software KVM service is not registered.");
            return;
        }
        try {
            hardware = SimHardware.byId(config.hardware());
        } catch (IllegalArgumentException e) {
            LOG.log(Level.ERROR, "Configuration " + PID + ": attribute 'hardware' has the invalid value '" + config.hardware()
                    + "'; valid values: " + SimHardware.validIds() + ". The software KVM service is not registered.");
            return;
        }
        SimKvm kvm = SimKvm.create(profile, hardware);
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(Kvm.PROVIDER, kvm.provider());
        props.put(Kvm.PROFILE, profile.id());
        props.put(Kvm.HARDWARE, hardware.id());
        registration = context.registerService(Kvm.class, kvm, props);
        LOG.log(Level.INFO, "Registered " + kvm.description());
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            registration.unregister();
            registration = null;
        }
    }
}
