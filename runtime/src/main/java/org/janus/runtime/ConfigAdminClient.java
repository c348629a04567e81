package org.janus.runtime;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * Config Admin as the launcher, outside the framework, reaches it: through the system bundle's context and by
 * reflection on the {@code org.osgi.service.cm} interfaces of the Config Admin bundle itself. The launcher could
 * instead put that package on its class path and export it from the system bundle; it does not, so that the
 * framework is wired the same whether Janus runs from bin/janus, embedded in a test or under Pax Exam, and the
 * Config Admin bundle keeps its own API. Only JDK types ({@link Dictionary}, strings) cross the boundary, as for the
 * command services.
 *
 * <p>Configurations are bound to the location {@code ?} (any bundle), as FileInstall binds those of {@code conf/}.
 */
final class ConfigAdminClient {
    static final String SERVICE = "org.osgi.service.cm.ConfigurationAdmin";
    /** Where FileInstall records which file of {@code conf/} a configuration came from. */
    static final String FILEINSTALL_FILENAME = "felix.fileinstall.filename";
    private static final String ANY_BUNDLE = "?";

    private final BundleContext context;

    ConfigAdminClient(BundleContext context) {
        this.context = context;
    }

    /**
     * Gives configuration {@code pid} exactly these properties, unless it already has them (Config Admin's
     * {@code updateIfDifferent}), which would restart the components it configures for nothing. Config Admin
     * delivers the change to them asynchronously; whoever depends on it waits for its effect.
     *
     * @return whether the configuration changed
     */
    boolean update(String pid, Map<String, ?> properties) throws LaunchException {
        return call("update configuration " + pid, (admin, api) -> {
            Object configuration = api.getConfiguration.invoke(admin, pid, ANY_BUNDLE);
            return (Boolean) api.updateIfDifferent.invoke(configuration, new Hashtable<String, Object>(properties));
        });
    }

    /** The properties of configuration {@code pid}, empty when there is none. */
    Map<String, Object> properties(String pid) throws LaunchException {
        return call("read configuration " + pid, (admin, api) -> {
            Object[] found = (Object[]) api.listConfigurations.invoke(admin, "(service.pid=" + escape(pid) + ")");
            Map<String, Object> values = new LinkedHashMap<>();
            if (found == null || found.length == 0) return values;
            Dictionary<?, ?> d = (Dictionary<?, ?>) api.getProperties.invoke(found[0]);
            if (d == null) return values;
            for (Enumeration<?> keys = d.keys(); keys.hasMoreElements(); ) {
                Object key = keys.nextElement();
                values.put(key.toString(), d.get(key));
            }
            return values;
        });
    }

    /** The methods of org.osgi.service.cm that the launcher calls, as the Config Admin bundle sees them. */
    private record Api(Method getConfiguration, Method listConfigurations, Method getProperties, Method updateIfDifferent) {
        static Api of(Object admin) throws ReflectiveOperationException {
            Class<?> adminType = Class.forName(SERVICE, false, admin.getClass().getClassLoader());
            Method getConfiguration = adminType.getMethod("getConfiguration", String.class, String.class);
            Class<?> configurationType = getConfiguration.getReturnType();
            return new Api(getConfiguration, adminType.getMethod("listConfigurations", String.class),
                    configurationType.getMethod("getProperties"),
                    configurationType.getMethod("updateIfDifferent", Dictionary.class));
        }
    }

    private interface Call<T> {
        T on(Object admin, Api api) throws ReflectiveOperationException;
    }

    private <T> T call(String what, Call<T> call) throws LaunchException {
        ServiceReference<?> reference = CommandServices.first(context, "(objectClass=" + SERVICE + ")");
        if (reference == null) {
            throw new LaunchException("cannot " + what + ": Config Admin (bundle org.apache.felix.configadmin, feature core) "
                    + "is not registered");
        }
        Object admin = context.getService(reference);
        if (admin == null) throw new LaunchException("cannot " + what + ": Config Admin went away");
        try {
            return call.on(admin, Api.of(admin));
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            throw new LaunchException("cannot " + what + ": " + cause, cause);
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new LaunchException("cannot " + what + ": this Config Admin does not offer org.osgi.service.cm 1.6 ("
                    + e + ")", e);
        } finally {
            context.ungetService(reference);
        }
    }

    /** RFC 1960 filter value escaping. */
    static String escape(String value) {
        return value.replace("\\", "\\\\").replace("*", "\\*").replace("(", "\\(").replace(")", "\\)");
    }
}
