package org.janus.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;
import javax.inject.Inject;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimProfile;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.ops4j.pax.exam.util.Filter;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

/**
 * Felix with Declarative Services, Config Admin and the KVM bundles, as the launcher assembles them: both
 * providers' services and their properties, reconfiguration of the sim, and the host-report command.
 * One framework for the class (PerClass): a test that changes the configuration restores it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class KvmProvidersIT {
    private static final String SIM = "(&(" + Constants.OBJECTCLASS + "=org.janus.kvm.api.Kvm)(janus.kvm.provider=sim))";
    private static final String LINUX = "(&(" + Constants.OBJECTCLASS + "=org.janus.kvm.api.Kvm)(janus.kvm.provider=linux))";
    private static final long WAIT_MS = 10_000;

    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin configurationAdmin;

    @Inject
    private ServiceComponentRuntime scr;

    @Inject
    @Filter("(janus.command=host-report)")
    private Function<List<String>, String> hostReport;

    @org.ops4j.pax.exam.Configuration
    public Option[] configuration() {
        return PaxFramework.framework(List.of(),
                "org.janus.kvm.linux", "org.janus.hostreport");
    }

    @Test
    public void theSimRegistersAKvmWithItsProfileAndHardware() throws Exception {
        ServiceReference<?> sim = await(SIM, r -> true);
        String profile = (String) sim.getProperty(Kvm.PROFILE);
        String hardware = (String) sim.getProperty(Kvm.HARDWARE);
        assertNotNull("janus.kvm.profile", profile);
        assertNotNull("janus.kvm.hardware", hardware);
        assertEquals(profile, SimProfile.byId(profile).id());
        assertEquals(hardware, SimHardware.byId(hardware).id());

        Kvm kvm = (Kvm) context.getService(sim);
        try {
            assertEquals("sim", kvm.provider());
            assertEquals(Kvm.API_VERSION, kvm.getApiVersion());
        } finally {
            context.ungetService(sim);
        }
    }

    @Test
    public void reconfiguringTheSimReregistersItWithTheNewProfile() throws Exception {
        ServiceReference<?> before = await(SIM, r -> true);
        String profile = (String) before.getProperty(Kvm.PROFILE);
        String other = profile.equals(SimProfile.K7_3.id()) ? SimProfile.INPLACE.id() : SimProfile.K7_3.id();

        Configuration configuration = configurationAdmin.getConfiguration("org.janus.kvm.sim", "?");
        Dictionary<String, Object> properties = new Hashtable<>();
        properties.put("profile", other);
        properties.put("hardware", SimHardware.AMD_SNP.id());
        configuration.update(properties);
        try {
            ServiceReference<?> after = await(SIM, r -> other.equals(r.getProperty(Kvm.PROFILE)));
            assertEquals(SimHardware.AMD_SNP.id(), after.getProperty(Kvm.HARDWARE));
            assertNotEquals("a new registration", before.getProperty(Constants.SERVICE_ID),
                    after.getProperty(Constants.SERVICE_ID));
            assertEquals("one sim at a time", 1, references(SIM).length);
        } finally {
            configuration.delete();
        }
        await(SIM, r -> profile.equals(r.getProperty(Kvm.PROFILE)));
    }

    @Test
    public void theLinuxProviderRegistersExactlyWhereDevKvmOpens() throws Exception {
        Bundle linux = installed("org.janus.kvm.linux");
        assertEquals("org.janus.kvm.linux is ACTIVE", Bundle.ACTIVE, linux.getState());
        // Its immediate component decides in activate() whether to register; wait until that has run.
        awaitActiveComponents(linux);

        Path devKvm = Path.of("/dev/kvm");
        boolean opens = Files.isReadable(devKvm) && Files.isWritable(devKvm);
        if (opens) {
            ServiceReference<?> kvm = await(LINUX, r -> true);
            assertEquals("linux", kvm.getProperty(Kvm.PROVIDER));
        } else {
            System.err.println("KvmProvidersIT: " + devKvm + (Files.exists(devKvm) ? " does not open" : " is absent")
                    + " on this host: checked that org.janus.kvm.linux is ACTIVE and registers no Kvm service");
            assertNull("no linux Kvm service without a usable /dev/kvm", references(LINUX));
        }
    }

    @Test
    public void theHostReportCommandRendersTheSim() {
        String text = hostReport.apply(List.of("--provider", "sim"));
        assertTrue(text, text.contains("KVM provider   sim"));
        assertTrue(text, text.contains("API version    12"));
        for (String platform : List.of("sev-snp", "tdx", "pkvm", "sw-protected", "none")) {
            assertTrue(platform + " in\n" + text, text.contains("\n  " + platform + " "));
        }

        JsonObject json = JsonParser.parseString(hostReport.apply(List.of("--json", "--provider", "sim"))).getAsJsonObject();
        assertEquals("sim", json.get("provider").getAsString());
        assertEquals(12, json.get("apiVersion").getAsInt());
        assertEquals(5, json.getAsJsonArray("platforms").size());
    }

    private ServiceReference<?> await(String filter, Predicate<ServiceReference<?>> condition) throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (true) {
            ServiceReference<?>[] refs = references(filter);
            if (refs != null) {
                for (ServiceReference<?> r : refs) {
                    if (condition.test(r)) return r;
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("no service " + filter + " as expected within " + WAIT_MS + " ms; present: "
                        + (refs == null ? "none" : Arrays.toString(Arrays.stream(refs).map(KvmProvidersIT::describe).toArray())));
            }
            Thread.sleep(20);
        }
    }

    private void awaitActiveComponents(Bundle bundle) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (true) {
            boolean allActive = !scr.getComponentDescriptionDTOs(bundle).isEmpty();
            for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs(bundle)) {
                for (ComponentConfigurationDTO c : scr.getComponentConfigurationDTOs(d)) {
                    allActive &= c.state == ComponentConfigurationDTO.ACTIVE;
                }
                allActive &= !scr.getComponentConfigurationDTOs(d).isEmpty();
            }
            if (allActive) return;
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("components of " + bundle.getSymbolicName() + " not active within " + WAIT_MS + " ms");
            }
            Thread.sleep(20);
        }
    }

    private ServiceReference<?>[] references(String filter) throws InvalidSyntaxException {
        return context.getServiceReferences((String) null, filter);
    }

    private Bundle installed(String symbolicName) {
        return Arrays.stream(context.getBundles())
                .filter(b -> symbolicName.equals(b.getSymbolicName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(symbolicName + " is not installed"));
    }

    private static String describe(ServiceReference<?> r) {
        return r.getProperty(Kvm.PROVIDER) + "/" + r.getProperty(Kvm.PROFILE) + "/" + r.getProperty(Kvm.HARDWARE);
    }
}
