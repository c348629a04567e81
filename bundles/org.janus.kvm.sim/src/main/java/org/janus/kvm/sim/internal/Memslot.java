package org.janus.kvm.sim.internal;

import org.janus.kvm.api.MemslotFlags;

/** A memslot of the model: GPA range, shared side (userspace_addr) and, with GUEST_MEMFD, its binding. */
record Memslot(int slot, int flags, long gpa, long size, long userspaceAddr, long gmemOffset, SimGuestMemfd gmem,
               boolean gmemOnly) {

    int addressSpace() { return slot >>> 16; }

    long end() { return gpa + size; }

    boolean contains(long address) { return address >= gpa && address < gpa + size; }

    boolean readonly() { return (flags & MemslotFlags.READONLY) != 0; }

    /** The guest_memfd offset of {@code address}. */
    long gmemOffsetOf(long address) { return gmemOffset + (address - gpa); }

    boolean bindingOverlaps(SimGuestMemfd file, long offset, long length) {
        return gmem == file && offset < gmemOffset + size && gmemOffset < offset + length;
    }
}
