package org.janus.kvm.sim.internal;

import java.util.Map;
import java.util.TreeMap;
import org.janus.kvm.libc.NativeMapping;

/**
 * The host mappings the software KVM handed out (memfd and guest_memfd mmaps): the only userspace addresses it
 * resolves for a memslot's shared side. An address outside them is, for the sim, unmapped memory.
 */
final class HostAddressSpace {
    private final TreeMap<Long, NativeMapping> byAddress = new TreeMap<>();

    synchronized void add(NativeMapping m) { byAddress.put(m.address(), m); }

    synchronized void remove(NativeMapping m) { byAddress.remove(m.address(), m); }

    /** The live mapping containing [address, address + length), or null. */
    synchronized NativeMapping find(long address, long length) {
        Map.Entry<Long, NativeMapping> e = byAddress.floorEntry(address);
        if (e == null) return null;
        NativeMapping m = e.getValue();
        if (!m.isMapped() || address + length > m.address() + m.length()) return null;
        return m;
    }
}
