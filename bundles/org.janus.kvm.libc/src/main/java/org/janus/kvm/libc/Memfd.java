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
    public static Memfd create(String name, long size) { return create(name, size, 0); }

    /**
     * memfd_create with MFD_CLOEXEC and {@code flags} ({@link org.janus.kvm.api.MemfdFlags}), then ftruncate.
     *
     * @throws org.janus.kvm.api.KvmException EINVAL (unknown flags, a huge page size the host lacks, a size that is
     *         not a multiple of the huge page), ENOMEM, EMFILE
     */
    public static Memfd create(String name, long size, long flags) {
        if (flags < 0 || flags > Integer.MAX_VALUE) throw new org.janus.kvm.api.KvmException("memfd_create", org.janus.kvm.api.Errno.EINVAL,
                "flags 0x" + Long.toHexString(flags) + " do not fit the unsigned int of memfd_create");
        int fd = Sys.check("memfd_create", Sys.C.memfd_create(name, LibC.MFD_CLOEXEC | (int) flags));
        try {
            Sys.check("ftruncate", Sys.C.ftruncate(fd, size));
        } catch (RuntimeException e) {
            Sys.C.close(fd);
            throw e;
        }
        return new Memfd(fd, size);
    }
}
