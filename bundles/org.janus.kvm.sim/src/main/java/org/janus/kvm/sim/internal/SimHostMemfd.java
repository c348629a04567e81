package org.janus.kvm.sim.internal;

import org.janus.kvm.api.FallocateMode;
import org.janus.kvm.api.FileStat;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.libc.Memfd;
import org.janus.kvm.libc.NativeMapping;

/**
 * An ordinary memfd (the libc {@link Memfd}, every call the real system call) whose mappings the sim records, so
 * a memslot's userspace_addr inside them resolves. fallocate is subject to fault injection ("fallocate").
 */
final class SimHostMemfd implements HostMemfd {
    private final Memfd memfd;
    private final SimHost host;

    SimHostMemfd(Memfd memfd, SimHost host) {
        this.memfd = memfd;
        this.host = host;
    }

    @Override public long size() { return memfd.size(); }

    @Override public void fallocate(int mode, long offset, long length) {
        // Only calls that pass fallocate(2)'s own argument checks count toward an injected fault, as
        // SimKvm.injectFault promises: a negative offset, an empty length, or PUNCH_HOLE without KEEP_SIZE fail alone.
        boolean valid = offset >= 0 && length > 0 && ((mode & FallocateMode.PUNCH_HOLE) == 0 || (mode & FallocateMode.KEEP_SIZE) != 0);
        if (memfd.isOpen() && valid) host.faults().check("fallocate");
        memfd.fallocate(mode, offset, length);
    }

    @Override public HostMapping mmap(long offset, long length, boolean shared) {
        if (memfd.isOpen()) host.faults().check("mmap");
        return new TrackedMapping((NativeMapping) memfd.mmap(offset, length, shared), host.addresses());
    }

    @Override public FileStat fstat() { return memfd.fstat(); }

    @Override public long allocatedBytes() { return memfd.allocatedBytes(); }

    @Override public void ftruncate(long length) { memfd.ftruncate(length); }

    @Override public byte[] pread(long offset, int length) { return memfd.pread(offset, length); }

    @Override public int pwrite(long offset, byte[] data) { return memfd.pwrite(offset, data); }

    @Override public boolean isOpen() { return memfd.isOpen(); }

    @Override public void close() { memfd.close(); }

    @Override public String toString() { return "memfd[size=0x" + Long.toHexString(size()) + "]"; }
}
