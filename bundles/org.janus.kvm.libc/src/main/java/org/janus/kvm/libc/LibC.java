package org.janus.kvm.libc;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;

/**
 * glibc functions, declared with errno reporting through {@link Native#getLastError()}. Those called per exit or per
 * conversion are in {@link DirectLibC} instead, reached through {@link Sys} and the mappings.
 */
public interface LibC extends Library {
    LibC INSTANCE = Native.load("c", LibC.class);

    int O_RDWR = 2;
    int O_CLOEXEC = 0x80000;
    int PROT_NONE = 0;
    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int MAP_SHARED = 1;
    int MAP_PRIVATE = 2;
    int MAP_ANONYMOUS = 0x20;
    int MAP_NORESERVE = 0x4000;
    int MFD_CLOEXEC = 1;
    int F_SETPIPE_SZ = 1031;
    int SPLICE_F_NONBLOCK = 2;
    int _SC_PAGESIZE = 30;

    int open(String path, int flags);

    int close(int fd);

    Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    int munmap(Pointer addr, long length);

    int mincore(Pointer addr, long length, byte[] vec);

    int memfd_create(String name, int flags);

    int ftruncate(int fd, long length);

    int fstat(int fd, Pointer statbuf);

    long vmsplice(int fd, Pointer iov, NativeLong nrSegs, int flags);

    int pipe2(int[] fds, int flags);

    int fcntl(int fd, int cmd, int arg);

    int getpid();

    /** The calling thread's kernel id (glibc 2.30+). */
    int gettid();

    /** Sends {@code sig} to thread {@code tid} of process {@code tgid} (glibc 2.30+). */
    int tgkill(int tgid, int tid, int sig);

    /** glibc's {@code struct sigaction} (x86-64 and aarch64: handler, 128-byte mask, flags, restorer; 152 bytes). */
    int sigaction(int signum, Pointer act, Pointer oldact);

    /** The first real-time signal glibc leaves to applications ({@code SIGRTMIN}). */
    int __libc_current_sigrtmin();

    long sysconf(int name);

    String strerror(int errnum);
}
