package org.janus.kvm.linux.internal;

import com.sun.jna.Pointer;
import org.janus.kvm.libc.Sys;

/**
 * A KVM file descriptor (/dev/kvm, a VM or a vCPU). Once closed it reads as -1, so a later ioctl reaches the kernel
 * with an invalid descriptor and fails with EBADF, exactly as it would in C.
 */
final class KvmFd implements AutoCloseable {
    private volatile int fd;

    KvmFd(int fd) { this.fd = fd; }

    int fd() { return fd; }

    boolean isOpen() { return fd >= 0; }

    /** ioctl with a pointer argument (or null); throws {@link org.janus.kvm.api.KvmException} named {@code ioctl}. */
    int ioctl(String ioctl, long request, Pointer arg) { return Sys.ioctl(ioctl, fd, request, arg); }

    /** ioctl with an integer argument passed by value. */
    int ioctl(String ioctl, long request, long arg) { return Sys.ioctl(ioctl, fd, request, arg); }

    /** ioctl returning {@code [rc, errno]} instead of throwing. */
    int[] ioctlRaw(long request, Pointer arg) { return Sys.ioctlRaw(fd, request, arg); }

    /** ioctl with an integer argument, returning {@code [rc, errno]} instead of throwing. */
    int[] ioctlRaw(long request, long arg) { return Sys.ioctlRaw(fd, request, arg); }

    @Override public synchronized void close() {
        int f = fd;
        fd = -1;
        Sys.closeQuietly(f);
    }
}
