package org.janus.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/**
 * The front-end commands bundles offer: services of the JDK type {@code Function<List<String>, String>} with
 * {@code janus.command=<name>}, so that the launcher, outside the framework, shares no classes with them. A
 * command signals bad input with IllegalArgumentException and a failed job with IllegalStateException.
 */
final class CommandServices {
    static final long POLL_MS = 50;

    private CommandServices() {}

    static String filter(String command) { return "(janus.command=" + command + ")"; }

    /** The highest-ranked service matching {@code filter}, or null. */
    static ServiceReference<?> first(BundleContext context, String filter) {
        List<ServiceReference<?>> refs = all(context, filter);
        return refs.isEmpty() ? null : refs.get(0);
    }

    /**
     * All services matching the filter, highest ranking first, whatever class space they are in: the launcher
     * cannot load the bundles' classes, so no assignability check applies.
     */
    static List<ServiceReference<?>> all(BundleContext context, String filter) {
        try {
            ServiceReference<?>[] refs = context.getAllServiceReferences(null, filter);
            if (refs == null) return List.of();
            List<ServiceReference<?>> sorted = new ArrayList<>(Arrays.asList(refs));
            sorted.sort((a, b) -> b.compareTo(a));
            return sorted;
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("bad filter " + filter, e);
        }
    }

    /** Waits for the command {@code name} of {@code bundle} to register. */
    static ServiceReference<?> await(BundleContext context, String name, String bundle, long timeoutMillis) throws LaunchException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (true) {
            ServiceReference<?> command = first(context, filter(name));
            if (command != null) return command;
            if (System.nanoTime() > deadline) {
                List<String> inactive = Arrays.stream(context.getBundles())
                        .filter(b -> b.getBundleId() != 0 && b.getState() != Bundle.ACTIVE && b.getHeaders().get(Constants.FRAGMENT_HOST) == null)
                        .map(b -> b.getSymbolicName() + " (state " + b.getState() + ")").toList();
                throw new LaunchException("the " + name + " command (bundle " + bundle + ") did not register within "
                        + timeoutMillis / 1000 + " s" + (inactive.isEmpty() ? "" : "; bundles not active: " + String.join(", ", inactive)));
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LaunchException("interrupted while waiting for the " + name + " command");
            }
        }
    }

    /**
     * Calls the command behind {@code reference} with {@code args} and returns its text. IllegalArgumentException
     * and IllegalStateException of the command reach the caller as they are.
     */
    static String apply(BundleContext context, ServiceReference<?> reference, String name, List<String> args) throws LaunchException {
        Object service = context.getService(reference);
        try {
            if (!(service instanceof Function<?, ?>))
                throw new LaunchException("the " + name + " service is not a java.util.function.Function: " + service);
            @SuppressWarnings("unchecked")
            Function<List<String>, String> command = (Function<List<String>, String>) service;
            return command.apply(args);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new LaunchException(name + " failed: " + e, e);
        } finally {
            context.ungetService(reference);
        }
    }
}
