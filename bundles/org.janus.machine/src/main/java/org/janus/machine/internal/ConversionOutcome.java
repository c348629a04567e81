package org.janus.machine.internal;

import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.memory.api.GpaRange;

/** How a conversion request ended, and what the guest is told. */
public sealed interface ConversionOutcome {

    /** The value for kvm_run.hypercall.ret: 0, EINVAL or EAGAIN. */
    long guestAnswer();

    /** Every RAM part converted (holes and MMIO converted to shared are skipped, listed in {@code skipped}). */
    record Done(List<GpaRange> converted, List<GpaRange> skipped) implements ConversionOutcome {
        public long guestAnswer() { return 0; }
    }

    /** Nothing changed: the request was refused or failed and every converted part was rolled back. */
    record Refused(int errno, String reason) implements ConversionOutcome {
        public long guestAnswer() { return errno == Errno.EAGAIN ? Errno.EAGAIN : Errno.EINVAL; }
    }

    /**
     * A failure could not be undone: memory in {@code range} is not as it was before the request (still converted,
     * or in an unknown state where a region {@link org.janus.memory.api.GuestRam#isBroken() broke}); everything
     * outside it is. The VM must stop. Never answered to the guest.
     */
    record Stop(GpaRange range, String cause, Throwable error) implements ConversionOutcome {
        public long guestAnswer() { throw new IllegalStateException("the VM must stop: " + cause); }
    }
}
