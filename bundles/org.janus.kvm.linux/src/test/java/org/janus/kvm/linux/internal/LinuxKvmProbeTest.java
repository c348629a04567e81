package org.janus.kvm.linux.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The decision the DS component acts on: which devices give a Kvm service, and the reason when none does. Runs everywhere. */
class LinuxKvmProbeTest {

    @Test
    void aMissingDeviceGivesNoServiceAndSaysWhy() {
        LinuxKvmProbe probe = LinuxKvmProbe.of("/dev/janus-no-such-kvm");
        assertFalse(probe.usable());
        assertNull(probe.kvm());
        assertTrue(probe.reason().contains("/dev/janus-no-such-kvm") && probe.reason().contains("ENOENT"), probe.reason());
    }

    @Test
    void aDeviceThatIsNotKvmGivesNoService() {
        // /dev/null opens read-write but refuses every KVM ioctl.
        LinuxKvmProbe probe = LinuxKvmProbe.of("/dev/null");
        assertFalse(probe.usable());
        assertTrue(probe.reason().contains("KVM_GET_API_VERSION") && probe.reason().contains("ENOTTY"), probe.reason());
    }
}
