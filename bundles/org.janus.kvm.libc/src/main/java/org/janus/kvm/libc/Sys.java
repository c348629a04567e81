package org.janus.kvm.libc;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import org.janus.kvm.api.KvmException;

/** Thin checked wrappers: a call that returns -1 becomes a {@link KvmException} naming the operation and errno. */
public final class Sys {
    public static final LibC C = LibC.INSTANCE;
    public static final int PAGE_SIZE = (int) C.sysconf(LibC._SC_PAGESIZE);
    public static final String ARCH = System.getProperty("os.arch");

    private Sys() {}

    /** Throws {@link KvmException} for {@code operation} when {@code rc} is -1, with the thread's errno. */
    public static int check(String operation, int rc) {
        if (rc == -1) throw new KvmException(operation, Native.getLastError());
        return rc;
    }

    public static long check(String operation, long rc) {
        if (rc == -1) throw new KvmException(operation, Native.getLastError());
        return rc;
    }

    /** ioctl with a pointer argument; the request is passed zero-extended, as the kernel's unsigned int cmd. */
    public static int ioctl(String operation, int fd, long request, Pointer arg) {
        return check(operation, DirectLibC.ioctl(fd, request & 0xffffffffL, arg));
    }

    /** ioctl with an integer argument passed by value. */
    public static int ioctl(String operation, int fd, long request, long arg) {
        return check(operation, DirectLibC.ioctl(fd, request & 0xffffffffL, arg));
    }

    /** ioctl returning the raw result and errno rather than throwing: {@code [rc, errno]}. */
    public static int[] ioctlRaw(int fd, long request, Pointer arg) {
        int rc = DirectLibC.ioctl(fd, request & 0xffffffffL, arg);
        return new int[] {rc, rc == -1 ? Native.getLastError() : 0};
    }

    /** ioctl with an integer argument, returning {@code [rc, errno]} instead of throwing. */
    public static int[] ioctlRaw(int fd, long request, long arg) {
        int rc = DirectLibC.ioctl(fd, request & 0xffffffffL, arg);
        return new int[] {rc, rc == -1 ? Native.getLastError() : 0};
    }

    public static void closeQuietly(int fd) {
        if (fd >= 0) C.close(fd);
    }

    public static boolean isX86() { return ARCH.equals("amd64") || ARCH.equals("x86_64"); }
}
