package org.janus.kvm.libc;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The glibc functions on the paths taken per exit and per conversion (ioctl, mprotect, fallocate, host reads and
 * writes of guest memory), bound by JNA's direct mapping: a static native method per function is called without
 * the reflection and argument boxing of an interface proxy ({@link LibC}), which costs about as much again as a
 * short system call. Addresses are passed as {@code long} (64-bit hosts only, as everywhere here); errno is read
 * with {@link Native#getLastError()} after the call, as for {@link LibC}.
 */
final class DirectLibC {
    static {
        Native.register("c");
    }

    private DirectLibC() {}

    /** The request is passed zero-extended, as the kernel's unsigned int cmd. */
    static native int ioctl(int fd, long request, Pointer arg);

    static native int ioctl(int fd, long request, long arg);

    static native int mprotect(long addr, long length, int prot);

    static native int fallocate(int fd, int mode, long offset, long length);

    static native long pread(int fd, byte[] buf, long count, long offset);

    static native long pwrite(int fd, byte[] buf, long count, long offset);

    static native long process_vm_readv(int pid, long localIov, long liovcnt, long remoteIov, long riovcnt, long flags);

    static native long process_vm_writev(int pid, long localIov, long liovcnt, long remoteIov, long riovcnt, long flags);
}
