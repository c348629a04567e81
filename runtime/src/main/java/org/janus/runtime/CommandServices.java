package org.janus.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceEvent;
import org.osgi.framework.ServiceListener;
import org.osgi.framework.ServiceReference;

/**
 * The front-end commands bundles offer: services of the JDK type {@code Function<List<String>, String>} with
 * {@code janus.command=<name>}, so that the launcher, outside the framework, shares no classes with them. A
 * command signals bad input with IllegalArgumentException and a failed job with IllegalStateException.
 */
final class CommandServices {

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

    /**
     * Waits for the command {@code name} of {@code bundle} to register: woken by each registration (a service
     * listener), not by polling, since every millisecond until the command is there is start-up time.
     */
    static ServiceReference<?> await(BundleContext context, String name, String bundle, long timeoutMillis) throws LaunchException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        Semaphore registrations = new Semaphore(0);
        ServiceListener listener = event -> {
            if (event.getType() == ServiceEvent.REGISTERED) registrations.release();
        };
        try {
            context.addServiceListener(listener, filter(name));
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("bad filter " + filter(name), e);
        }
        try {
            while (true) {
                // Looked up after the listener is in place, so a registration in between still wakes the wait below.
                ServiceReference<?> command = first(context, filter(name));
                if (command != null) return command;
                long left = deadline - System.nanoTime();
                if (left <= 0 || !registrations.tryAcquire(left, TimeUnit.NANOSECONDS)) {
                    command = first(context, filter(name));
                    if (command != null) return command;
                    List<String> inactive = Arrays.stream(context.getBundles())
                            .filter(b -> b.getBundleId() != 0 && b.getState() != Bundle.ACTIVE && b.getHeaders().get(Constants.FRAGMENT_HOST) == null)
                            .map(b -> b.getSymbolicName() + " (state " + b.getState() + ")").toList();
                    throw new LaunchException("the " + name + " command (bundle " + bundle + ") did not register within "
                            + timeoutMillis / 1000 + " s" + (inactive.isEmpty() ? "" : "; bundles not active: " + String.join(", ", inactive)));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaunchException("interrupted while waiting for the " + name + " command");
        } finally {
            context.removeServiceListener(listener);
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
