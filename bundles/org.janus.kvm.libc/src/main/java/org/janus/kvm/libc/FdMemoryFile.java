package org.janus.kvm.libc;

import com.sun.jna.Pointer;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.FileStat;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.MemoryFile;

/**
 * A {@link MemoryFile} over a real file descriptor: every operation is the system call itself, so its errors
 * are the kernel's. Providers extend it for guest_memfd (real) and memfd.
 */
public abstract class FdMemoryFile implements MemoryFile {
    private volatile int fd;
    private final long size;

    protected FdMemoryFile(int fd, long size) {
        this.fd = fd;
        this.size = size;
    }

    /** The descriptor, or -1 once closed (system calls on it then fail with EBADF, as they would in C). */
    public int fd() { return fd; }

    @Override public long size() { return size; }

    @Override public void fallocate(int mode, long offset, long length) {
        Sys.check("fallocate", DirectLibC.fallocate(fd, mode, offset, length));
    }

    @Override public HostMapping mmap(long offset, long length, boolean shared) {
        Pointer p = Sys.C.mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE,
                shared ? LibC.MAP_SHARED : LibC.MAP_PRIVATE, fd, offset);
        if (Pointer.nativeValue(p) == -1L) throw new KvmException("mmap", com.sun.jna.Native.getLastError());
        return newMapping(Pointer.nativeValue(p), length, offset);
    }

    /** Wraps a fresh mapping; subclasses may return their own kind. */
    protected HostMapping newMapping(long address, long length, long offset) {
        return new NativeMapping(address, length, offset);
    }

    @Override public FileStat fstat() { return Stat.fstat(fd); }

    /** st_blocks, which is right for memfd; a guest_memfd must measure otherwise. */
    @Override public long allocatedBytes() { return fstat().allocatedBytes(); }

    @Override public void ftruncate(long length) { Sys.check("ftruncate", Sys.C.ftruncate(fd, length)); }

    @Override public byte[] pread(long offset, int length) {
        byte[] b = new byte[length];
        long n = Sys.check("pread", DirectLibC.pread(fd, b, length, offset));
        return n == length ? b : java.util.Arrays.copyOf(b, (int) n);
    }

    @Override public int pwrite(long offset, byte[] data) {
        return (int) Sys.check("pwrite", DirectLibC.pwrite(fd, data, data.length, offset));
    }

    @Override public boolean isOpen() { return fd >= 0; }

    @Override public synchronized void close() {
        int f = fd;
        fd = -1;
        if (f >= 0 && Sys.C.close(f) != 0) throw new KvmException("close", Errno.EBADF);
    }
}
