package org.janus.kvm.linux.internal;

import org.janus.kvm.api.SevDevice;
import org.janus.kvm.libc.LibC;
import org.janus.kvm.libc.Sys;

/** An open /dev/sev; its descriptor goes into kvm_sev_cmd.sev_fd. */
final class LinuxSevDevice implements SevDevice {
    static final String PATH = "/dev/sev";

    private final KvmFd fd;

    private LinuxSevDevice(int fd) { this.fd = new KvmFd(fd); }

    /** @throws org.janus.kvm.api.KvmException ENOENT without SEV firmware; EACCES without permission */
    static LinuxSevDevice open() {
        return new LinuxSevDevice(Sys.check("open " + PATH, Sys.C.open(PATH, LibC.O_RDWR | LibC.O_CLOEXEC)));
    }

    /** The descriptor, or -1 once closed. */
    int fd() { return fd.fd(); }

    @Override public void close() { fd.close(); }
}
