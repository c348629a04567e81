package org.janus.kvm.libc;

import org.janus.kvm.api.HostMemfd;

/** An ordinary memfd of a fixed size (memfd_create + ftruncate). */
public final class Memfd extends FdMemoryFile implements HostMemfd {
    private Memfd(int fd, long size) { super(fd, size); }

    /**
     * Creates a memfd of {@code size} bytes (sparse: nothing is allocated until touched or fallocated).
     *
     * @throws org.janus.kvm.api.KvmException ENOMEM, EMFILE, EINVAL
     */
    public static Memfd create(String name, long size) {
        int fd = Sys.check("memfd_create", Sys.C.memfd_create(name, LibC.MFD_CLOEXEC));
        try {
            Sys.check("ftruncate", Sys.C.ftruncate(fd, size));
        } catch (RuntimeException e) {
            Sys.C.close(fd);
            throw e;
        }
        return new Memfd(fd, size);
    }
}
