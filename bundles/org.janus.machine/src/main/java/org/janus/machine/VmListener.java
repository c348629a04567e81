package org.janus.machine;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Told of every {@link VmEvent} of every VM of a {@link VmManager}, on the thread that caused it, after the change.
 * A listener must return quickly and must not call back into the manager for the same VM from this thread.
 */
@ConsumerType
@FunctionalInterface
public interface VmListener {
    void event(VmEvent event);
}
