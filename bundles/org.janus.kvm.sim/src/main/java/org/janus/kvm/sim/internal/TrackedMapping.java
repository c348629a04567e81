package org.janus.kvm.sim.internal;

import org.janus.kvm.libc.NativeMapping;

/** A real mapping of an ordinary memfd, known to the sim so that memslots may use it as their shared side. */
final class TrackedMapping extends NativeMapping {
    private final HostAddressSpace addresses;

    TrackedMapping(NativeMapping fresh, HostAddressSpace addresses) {
        super(fresh.address(), fresh.length(), fresh.fileOffset());
        this.addresses = addresses;
        addresses.add(this);
    }

    @Override public synchronized void close() {
        addresses.remove(this);
        super.close();
    }
}
