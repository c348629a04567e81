package org.janus.kvm.linux;

import org.janus.kvm.api.Kvm;
import org.janus.kvm.linux.internal.LinuxKvm;

/** The real KVM, opened directly rather than found as a service. */
public final class LinuxKvmDevice {
    /** Where the KVM system device lives. */
    public static final String PATH = LinuxKvm.DEVICE;

    private LinuxKvmDevice() {}

    /**
     * Opens /dev/kvm and checks the API version.
     *
     * @throws org.janus.kvm.api.KvmException ENOENT without the device, EACCES without permission
     */
    public static Kvm open() { return LinuxKvm.open(); }

    /** Opens a KVM device at another path. */
    public static Kvm open(String device) { return LinuxKvm.open(device); }

    /** Whether the host's KVM is kvm-pvm (KVM without hardware virtualisation), which cannot run real-mode guests. */
    public static boolean isPvm() { return new java.io.File("/sys/module/kvm_pvm").exists(); }
}
