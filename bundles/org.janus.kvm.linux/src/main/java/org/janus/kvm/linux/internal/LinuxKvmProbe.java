package org.janus.kvm.linux.internal;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmException;

/**
 * Whether a KVM device is usable: it opens read-write and answers API version 12. Either {@code kvm} is the open
 * device, or {@code reason} says in one sentence why there is none.
 */
record LinuxKvmProbe(LinuxKvm kvm, String reason) {

    static LinuxKvmProbe of(String device) {
        LinuxKvm kvm;
        try {
            kvm = LinuxKvm.open(device);
        } catch (KvmException e) {
            return new LinuxKvmProbe(null, device + " does not open (" + Errno.name(e.errno()) + ")");
        } catch (LinkageError e) {
            return new LinuxKvmProbe(null, "JNA cannot reach the C library (" + e + ")");
        }
        try {
            int version = kvm.getApiVersion();
            if (version == Kvm.API_VERSION) return new LinuxKvmProbe(kvm, null);
            kvm.close();
            return new LinuxKvmProbe(null, device + " answers KVM API version " + version + ", not " + Kvm.API_VERSION);
        } catch (KvmException e) {
            kvm.close();
            return new LinuxKvmProbe(null, device + " fails KVM_GET_API_VERSION (" + Errno.name(e.errno()) + ")");
        }
    }

    boolean usable() { return kvm != null; }
}
