package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.libc.FdMemoryFile;
import org.janus.kvm.libc.Sys;
import org.janus.kvm.linux.internal.Structs.KvmMemoryAttributes2;

/**
 * A real guest_memfd: fallocate, mmap, fstat, pread/pwrite and ftruncate are the system calls themselves (so the
 * kernel's guest_memfd rules answer), and mappings are {@link org.janus.kvm.libc.NativeMapping}s with
 * kernel-checked access and real vmsplice pins.
 */
final class LinuxGuestMemfd extends FdMemoryFile implements GuestMemfd {
    private final long flags;

    LinuxGuestMemfd(int fd, long size, long flags) {
        super(fd, size);
        this.flags = flags;
    }

    @Override public long flags() { return flags; }

    /**
     * guest_memfd keeps no st_blocks, so this maps the whole file for a moment and asks mincore(2), which looks up
     * the file's page cache without faulting anything in (private pages included, and without SIGBUS). mincore
     * counts only up-to-date folios, and guest_memfd marks a folio up to date when it zeroes it on first use by
     * the host or the guest: a page fallocated but not yet touched is allocated yet not counted. Only a
     * guest_memfd created with MMAP can be mapped; for any other the kernel offers no measure: -1.
     */
    @Override public long allocatedBytes() {
        if ((flags & GuestMemfdFlags.MMAP) == 0) return -1;
        try (HostMapping whole = mmap(0, size(), true)) {
            return whole.residentBytes(0, size());
        }
    }

    @Override public void setMemoryAttributes2(MemoryAttributes2 attributes) {
        try (Memory s = KvmMemoryAttributes2.T.allocate()) {
            KvmMemoryAttributes2.OFFSET.put(s, attributes.offset());
            KvmMemoryAttributes2.SIZE.put(s, attributes.size());
            KvmMemoryAttributes2.ATTRIBUTES.put(s, attributes.attributes());
            KvmMemoryAttributes2.FLAGS.put(s, attributes.flags());
            long[] reserved = attributes.reserved();
            for (int i = 0; i < reserved.length; i++) KvmMemoryAttributes2.RESERVED.put(s, i, reserved[i]);
            int[] r = Sys.ioctlRaw(fd(), Ioctls.KVM_SET_MEMORY_ATTRIBUTES2, s);
            if (r[0] == -1) {
                if (r[1] == Errno.EAGAIN)
                    throw KvmException.withErrorOffset("KVM_SET_MEMORY_ATTRIBUTES2", r[1],
                            KvmMemoryAttributes2.ERROR_OFFSET.get(s), "a page to convert has extra references");
                throw new KvmException("KVM_SET_MEMORY_ATTRIBUTES2", r[1]);
            }
        }
    }

    @Override public String toString() {
        return "LinuxGuestMemfd[fd " + fd() + ", size 0x" + Long.toHexString(size()) + ", flags " + flags + "]";
    }
}
