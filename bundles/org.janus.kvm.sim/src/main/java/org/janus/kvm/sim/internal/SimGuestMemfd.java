package org.janus.kvm.sim.internal;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.FallocateMode;
import org.janus.kvm.api.FileStat;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.PagePin;
import org.janus.kvm.libc.LibC;
import org.janus.kvm.libc.Memfd;
import org.janus.kvm.libc.NativeMapping;

/**
 * A guest_memfd of the software KVM. Its memory is a real memfd, so allocation, hole punching, st_blocks and
 * resident size are the kernel's. The sim reaches the pages through its own mapping of that memfd (never handed
 * out); the host reaches them only through {@link GmemMapping}s, in which pages the host may not touch are
 * PROT_NONE. In the in-place mode the PRIVATE attribute lives here, per page of the file (§4.4).
 */
final class SimGuestMemfd implements GuestMemfd {
    static final String SET_ATTRIBUTES2 = "KVM_SET_MEMORY_ATTRIBUTES2";
    /** EFBIG: vfs_fallocate when offset + len overflows. */
    private static final int EFBIG = 27;
    private static final int KNOWN_FALLOC_MODES = FallocateMode.KEEP_SIZE | FallocateMode.PUNCH_HOLE
            | FallocateMode.COLLAPSE_RANGE | FallocateMode.ZERO_RANGE | FallocateMode.INSERT_RANGE
            | FallocateMode.UNSHARE_RANGE | 0x80 /* FALLOC_FL_WRITE_ZEROES */;

    private final SimVm vm;
    private final SimHost host;
    private final long size;
    private final long flags;
    private final int page;
    private final Memfd memfd;
    private final NativeMapping own;
    private final PageRanges privatePages = new PageRanges();
    private final List<GmemMapping> mappings = new ArrayList<>();
    private final List<PinRecord> pins = new ArrayList<>();
    /** Which pages the confidential hardware has given the guest (SEV-SNP, TDX), per {@link EncryptedMemory}. */
    private final EncryptedMemory.Pages guestPages = new EncryptedMemory.Pages();
    private volatile boolean open = true;
    private boolean released;

    /** Pages held by one pin; pages punched out of the file since no longer count (their folios left the file). */
    private static final class PinRecord {
        final long first;
        final long end;
        final BitSet detached = new BitSet();

        PinRecord(long first, long end) {
            this.first = first;
            this.end = end;
        }

        long firstHeld(long from, long to) {
            long s = Math.max(from, first);
            long e = Math.min(to, end);
            for (long p = s; p < e; p++) if (!detached.get((int) (p - first))) return p;
            return -1;
        }
    }

    SimGuestMemfd(SimVm vm, long size, long flags) {
        this.vm = vm;
        this.host = vm.host();
        this.size = size;
        this.flags = flags;
        this.page = host.pageSize();
        this.memfd = Memfd.create("kvm-gmem-sim", size);
        NativeMapping m;
        try {
            m = (NativeMapping) memfd.mmap(0, size, true);
        } catch (RuntimeException e) {
            memfd.close();
            throw e;
        }
        this.own = m;
        // In the in-place mode a new guest_memfd is private everywhere unless INIT_SHARED (§4.4 "Default state").
        if (host.rules().inPlace() && (flags & GuestMemfdFlags.INIT_SHARED) == 0) privatePages.add(0, size / page);
    }

    SimVm vm() { return vm; }

    @Override public long size() { return size; }

    @Override public long flags() { return flags; }

    boolean hasMmap() { return (flags & GuestMemfdFlags.MMAP) != 0; }

    /** Gone for good: the descriptor is closed and no host mapping holds the file (kvm_gmem_release). */
    boolean isReleased() {
        synchronized (host.lock) {
            return released;
        }
    }

    private void ensureOpen(String op) {
        if (!open) throw new KvmException(op, Errno.EBADF, "guest_memfd is closed");
    }

    // ---- attributes (in-place mode) ----

    /** The pages the hardware has given the guest, for {@link EncryptedMemory} (callers hold the model lock). */
    EncryptedMemory.Pages guestPages() { return guestPages; }

    /** The PRIVATE attribute of the page at {@code offset} (in-place mode; callers hold the model lock). */
    boolean isPrivateAt(long offset) { return privatePages.contains(offset / page); }

    @Override public void setMemoryAttributes2(MemoryAttributes2 a) {
        ensureOpen(SET_ATTRIBUTES2);
        KernelRules rules = host.rules();
        // Before the series, or with the mode off, guest_memfd has no such ioctl (§4.3).
        if (!rules.inPlace()) throw new KvmException(SET_ATTRIBUTES2, Errno.ENOTTY,
                "attributes are VM-wide on this kernel (profile " + rules.profile().id() + ")");
        // Validation in the order of kvm_gmem_set_attributes (v8 and as applied, §13).
        if (a.flags() != 0) throw new KvmException(SET_ATTRIBUTES2, Errno.EINVAL, "flags must be 0");
        for (long r : a.reserved()) if (r != 0) throw new KvmException(SET_ATTRIBUTES2, Errno.EINVAL, "reserved must be 0");
        // kvm_arch_has_private_mem(f->kvm), before the attributes: even "shared" is refused, the range left as it is.
        if (!rules.hasPrivateMem(vm.type())) throw new KvmException(SET_ATTRIBUTES2, Errno.EINVAL,
                "a " + org.janus.kvm.api.VmType.name(vm.type()) + " VM has no private memory to convert");
        if ((a.attributes() & ~rules.supportedMemAttributes(vm.type())) != 0)
            throw new KvmException(SET_ATTRIBUTES2, Errno.EINVAL, "unsupported attributes 0x" + Long.toHexString(a.attributes()));
        long offset = a.offset();
        long length = a.size();
        if (length == 0 || Long.compareUnsigned(offset + length, offset) < 0)
            throw new KvmException(SET_ATTRIBUTES2, Errno.EINVAL, "size 0 or offset + size overflows");
        if (offset % page != 0 || length % page != 0)
            throw new KvmException(SET_ATTRIBUTES2, Errno.EINVAL, "offset or size not page aligned");
        if (Long.compareUnsigned(offset, size) >= 0 || Long.compareUnsigned(offset + length, size) > 0)
            throw new KvmException(SET_ATTRIBUTES2, Errno.EINVAL, "range beyond the file size 0x" + Long.toHexString(size));
        int injected = host.faults().next(SET_ATTRIBUTES2);
        if (injected == Errno.EAGAIN) throw KvmException.withErrorOffset(SET_ATTRIBUTES2, injected, offset, "injected fault");
        if (injected != 0) throw new KvmException(SET_ATTRIBUTES2, injected, "injected fault");
        boolean toPrivate = (a.attributes() & MemoryAttribute.PRIVATE) != 0;
        long first = offset / page;
        long end = (offset + length) / page;
        synchronized (host.lock) {
            // Step 9: a range that already has these attributes is a no-op.
            if (toPrivate ? privatePages.containsAll(first, end) : privatePages.containsNone(first, end)) return;
            if (toPrivate) {
                // Step 10: pages with extra references cannot become private; nothing in the range changes.
                long pinned = firstPinned(first, end);
                if (pinned >= 0) throw KvmException.withErrorOffset(SET_ATTRIBUTES2, Errno.EAGAIN,
                        Math.max(offset, pinned * page), "page at offset 0x" + Long.toHexString(pinned * page)
                                + " has extra references (pinned)");
                privatePages.add(first, end);
                for (GmemMapping m : mappings) protect(m, first, end, false);
            } else {
                // Step 11: to-shared never waits for references. The hardware takes the pages back from the guest first.
                EncryptedMemory encrypted = vm.encryptedMemory();
                if (encrypted != null) encrypted.leavingGuest(this, first, end);
                privatePages.remove(first, end);
                for (GmemMapping m : mappings) protect(m, first, end, true);
            }
        }
    }

    private long firstPinned(long first, long end) {
        long best = -1;
        for (PinRecord r : pins) {
            long p = r.firstHeld(first, end);
            if (p >= 0 && (best < 0 || p < best)) best = p;
        }
        return best;
    }

    /** Whether the host may touch a page through a mapping: §3.2 (6.18: INIT_SHARED or nothing), §4.4 (in-place: the attribute). */
    private boolean hostMayAccessAll() { return (flags & GuestMemfdFlags.INIT_SHARED) != 0; }

    /** Sets the protection of file pages [first, end) in mapping {@code m}, clipped to the mapping and the file. */
    private void protect(GmemMapping m, long first, long end, boolean accessible) {
        if (!m.isMapped()) return;
        long mapFirst = m.fileOffset() / page;
        long mapEnd = Math.min((m.fileOffset() + m.length() + page - 1) / page, size / page);
        long s = Math.max(first, mapFirst);
        long e = Math.min(end, mapEnd);
        if (s >= e) return;
        long off = s * page - m.fileOffset();
        long len = Math.min(e * page - m.fileOffset(), m.length()) - off;
        m.mprotect(off, len, accessible ? LibC.PROT_READ | LibC.PROT_WRITE : LibC.PROT_NONE);
    }

    // ---- file operations (§3.2) ----

    @Override public void fallocate(int mode, long offset, long length) {
        ensureOpen("fallocate");
        if (offset < 0 || length <= 0) throw new KvmException("fallocate", Errno.EINVAL, "offset < 0 or length <= 0");
        if ((mode & ~KNOWN_FALLOC_MODES) != 0) throw new KvmException("fallocate", Errno.EOPNOTSUPP, "unknown mode bits");
        if (offset + length < 0) throw new KvmException("fallocate", EFBIG, "offset + length overflows");
        if ((mode & FallocateMode.KEEP_SIZE) == 0)
            throw new KvmException("fallocate", Errno.EOPNOTSUPP, "guest_memfd needs FALLOC_FL_KEEP_SIZE");
        if ((mode & ~(FallocateMode.KEEP_SIZE | FallocateMode.PUNCH_HOLE)) != 0)
            throw new KvmException("fallocate", Errno.EOPNOTSUPP, "guest_memfd allows only KEEP_SIZE and PUNCH_HOLE");
        if (offset % page != 0 || length % page != 0)
            throw new KvmException("fallocate", Errno.EINVAL, "offset or length not page aligned");
        boolean punch = (mode & FallocateMode.PUNCH_HOLE) != 0;
        if (!punch && offset + length > size)
            throw new KvmException("fallocate", Errno.EINVAL, "allocation beyond the file size 0x" + Long.toHexString(size));
        host.faults().check("fallocate");
        synchronized (host.lock) {
            if (punch) {
                // Punching keeps the attributes (§4.4); pages re-fault zeroed. Pins keep the old pages, not the file's.
                memfd.punchHole(offset, length);
                long first = offset / page;
                long end = Math.min((offset + length) / page, size / page);
                for (PinRecord r : pins) {
                    long s = Math.max(first, r.first);
                    long e = Math.min(end, r.end);
                    if (s < e) r.detached.set((int) (s - r.first), (int) (e - r.first));
                }
                // The folios are freed: SNP makes them the host's again in the RMP, TDX removes them from the TD.
                EncryptedMemory encrypted = vm.encryptedMemory();
                if (encrypted != null) encrypted.released(this, first, end);
            } else {
                memfd.allocate(offset, length);
            }
        }
    }

    @Override public HostMapping mmap(long offset, long length, boolean shared) {
        ensureOpen("mmap");
        if (offset % page != 0 || offset < 0) throw new KvmException("mmap", Errno.EINVAL, "offset not page aligned");
        if (length <= 0) throw new KvmException("mmap", Errno.EINVAL, "length must be positive");
        if (!hasMmap()) throw new KvmException("mmap", Errno.ENODEV, "guest_memfd created without GUEST_MEMFD_FLAG_MMAP");
        if (!shared) throw new KvmException("mmap", Errno.EINVAL, "guest_memfd can only be mapped MAP_SHARED");
        host.faults().check("mmap");
        synchronized (host.lock) {
            GmemMapping m = new GmemMapping((NativeMapping) memfd.mmap(offset, length, true), this);
            long mapFirst = offset / page;
            long mapEnd = (offset + length + page - 1) / page;
            if (host.rules().inPlace()) {
                for (long[] r : privatePages.rangesIn(mapFirst, mapEnd)) protect(m, r[0], r[1], false);
            } else if (!hostMayAccessAll()) {
                protect(m, mapFirst, mapEnd, false);
            }
            mappings.add(m);
            host.addresses().add(m);
            return m;
        }
    }

    PagePin pin(GmemMapping m, long offset, long length) {
        synchronized (host.lock) {
            PagePin real = m.realPin(offset, length);
            long start = m.fileOffset() + offset;
            PinRecord r = new PinRecord(start / page, (start + length + page - 1) / page);
            pins.add(r);
            return new PagePin() {
                private boolean closed;

                @Override public long offset() { return real.offset(); }

                @Override public long length() { return real.length(); }

                @Override public void close() {
                    synchronized (host.lock) {
                        if (closed) return;
                        closed = true;
                        pins.remove(r);
                        real.close();
                    }
                }
            };
        }
    }

    /** munmap of a host mapping, under the model lock so that no conversion is changing its protection meanwhile. */
    void closeMapping(GmemMapping m) {
        synchronized (host.lock) {
            if (!m.isMapped()) return;
            host.addresses().remove(m);
            m.unmap();
            mappings.remove(m);
            releaseIfUnused();
        }
    }

    @Override public FileStat fstat() {
        ensureOpen("fstat");
        // guest_memfd keeps no i_blocks accounting of its page cache: st_blocks stays 0 whatever is allocated
        // (measured on 6.18). The size, block size (PAGE_SIZE) and a distinct inode are the memfd's.
        FileStat real = memfd.fstat();
        return new FileStat(size, page, 0, real.inode());
    }


    /** The backing memfd's real block count: what this guest_memfd has allocated. */
    @Override public long allocatedBytes() {
        ensureOpen("fstat");
        return memfd.allocatedBytes();
    }

    @Override public void ftruncate(long length) {
        ensureOpen("ftruncate");
        throw new KvmException("ftruncate", Errno.EINVAL, "guest_memfd cannot be resized");
    }

    @Override public byte[] pread(long offset, int length) {
        ensureOpen("pread");
        // No read ops, and the pseudo file lacks FMODE_PREAD: ksys_pread64 answers ESPIPE.
        throw new KvmException("pread", Errno.ESPIPE, "guest_memfd cannot be read");
    }

    @Override public int pwrite(long offset, byte[] data) {
        ensureOpen("pwrite");
        throw new KvmException("pwrite", Errno.ESPIPE, "guest_memfd cannot be written");
    }

    @Override public boolean isOpen() { return open; }

    @Override public void close() {
        synchronized (host.lock) {
            if (!open) return;
            open = false;
            releaseIfUnused();
        }
    }

    private void releaseIfUnused() {
        if (open || released || !mappings.isEmpty()) return;
        released = true;
        own.close();
        memfd.close();
    }

    // ---- guest access (callers hold the model lock and have checked isReleased) ----

    void guestRead(long offset, byte[] dst, int dstOffset, int length) { own.read(offset, dst, dstOffset, length); }

    void guestWrite(long offset, byte[] src, int srcOffset, int length) { own.write(offset, src, srcOffset, length); }

    /** Fills pages [first, end) with zeros without allocating them (a hole reads zero), for the hardware's clearing. */
    void zeroPages(long first, long end) { memfd.punchHole(first * page, (end - first) * page); }

    @Override public String toString() {
        return "guest_memfd[size=0x" + Long.toHexString(size) + ", flags=" + flags + (open ? "" : ", closed") + "]";
    }
}
