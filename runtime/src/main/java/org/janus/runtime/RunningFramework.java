package org.janus.runtime;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import org.osgi.framework.BundleContext;

/**
 * The framework a one-shot command (host-report, run, measure) starts: stopped when the command is done, or by the
 * JVM's shutdown hook when the user interrupts it first. Gogo, should a feature bring it, must not read the
 * terminal, or the end of input would stop everything.
 */
final class RunningFramework implements AutoCloseable {
    private final Launcher.Started started;
    private final Thread hook;

    private RunningFramework(Launcher.Started started) {
        this.started = started;
        this.hook = new Thread(started::stop, "janus-shutdown");
    }

    /** Starts the features' bundles and reports on {@code err} each bundle that would not start. */
    static RunningFramework start(Launcher launcher, List<String> features, PrintStream err) throws LaunchException {
        RunningFramework running = new RunningFramework(launcher.start(features, Map.of("gosh.args", "--nointeractive")));
        Runtime.getRuntime().addShutdownHook(running.hook);
        Cli.reportStartFailures(running.started, err);
        return running;
    }

    BundleContext context() {
        return started.framework().getBundleContext();
    }

    @Override
    public void close() {
        started.stop();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // The JVM is already exiting; the hook stops the framework, which is done anyway.
        }
    }
}
