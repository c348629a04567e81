package org.janus.qmp.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.janus.machine.VmManager;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The QMP control socket of the framework, configured by {@value #PID}: without that configuration there is no
 * socket. One socket serves every VM of the {@link VmManager}; see {@link Commands} for how commands address a VM.
 * A change of configuration closes the socket and opens it anew; deactivation removes the socket file.
 */
@Component(service = {}, immediate = true, configurationPid = QmpServer.PID, configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = QmpServer.Config.class)
public final class QmpServer {
    public static final String PID = "org.janus.qmp";
    private static final System.Logger LOG = System.getLogger(QmpServer.class.getName());

    @ObjectClassDefinition(name = "Janus QMP socket",
            description = "A Unix socket speaking the QEMU Machine Protocol over Janus's VMs (QEMU's commands and events, "
                    + "Janus's own under __org.janus_).")
    public @interface Config {
        @AttributeDefinition(name = "Socket path",
                description = "Where the socket is created, mode 0600 (missing directories are created with mode 0700). A "
                        + "stale socket there is replaced; a live one, or anything that is not a socket, is not.")
        String socket();

        @AttributeDefinition(name = "Clients at once", description = "More are answered with an error and disconnected.",
                min = "1", max = "1024")
        int max_connections() default 16;

        @AttributeDefinition(name = "Largest message (bytes)",
                description = "A client that sends a longer message gets an error and is disconnected.", min = "1024")
        int max_message_bytes() default 1 << 20;

        @AttributeDefinition(name = "Unfinished message timeout (seconds)",
                description = "A client that leaves a message incomplete for longer is disconnected.", min = "1")
        int message_timeout_seconds() default 30;
    }

    @Reference
    private VmManager manager;

    private Server server;

    @Activate
    void activate(BundleContext context, Config config) throws IOException {
        if (config.socket() == null || config.socket().isBlank())
            throw new IllegalArgumentException(PID + ": 'socket' (the socket's path) is not set; no QMP socket");
        Server.Settings settings = new Server.Settings(Path.of(config.socket()), Math.max(1, config.max_connections()),
                new Connection.Limits(Math.max(1024, config.max_message_bytes()), 256,
                        TimeUnit.SECONDS.toNanos(Math.max(1, config.message_timeout_seconds()))));
        try {
            server = Server.start(manager, settings, "janus " + context.getBundle().getVersion());
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, PID + ": no QMP socket: " + e.getMessage());
            throw e;
        }
        LOG.log(System.Logger.Level.INFO, "QMP socket listening on " + server.path());
    }

    @Deactivate
    void deactivate() {
        if (server != null) server.close();
        server = null;
    }
}
