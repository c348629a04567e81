package org.janus.kvm.sim.internal;

import org.janus.kvm.api.PagePin;
import org.janus.kvm.libc.NativeMapping;

/**
 * A host mapping of a guest_memfd handed out by the sim. Private pages are PROT_NONE in it, so the checked
 * access of {@link NativeMapping} fails with EFAULT where the kernel would raise SIGBUS. Pins are real
 * (vmsplice) and are also recorded in the guest_memfd model, where they make conversion to private fail with EAGAIN.
 */
final class GmemMapping extends NativeMapping {
    private final SimGuestMemfd gmem;

    GmemMapping(NativeMapping fresh, SimGuestMemfd gmem) {
        super(fresh.address(), fresh.length(), fresh.fileOffset());
        this.gmem = gmem;
    }

    @Override public PagePin pin(long offset, long length) {
        return gmem.pin(this, offset, length);
    }

    /** The real pin, for {@link SimGuestMemfd#pin}. */
    PagePin realPin(long offset, long length) { return super.pin(offset, length); }

    @Override public void close() { gmem.closeMapping(this); }

    /** The real munmap, for {@link SimGuestMemfd#closeMapping}. */
    void unmap() { super.close(); }
}
