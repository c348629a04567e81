package org.janus.kvm.libc;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.PagePin;

/**
 * A real mapping whose reads and writes go through process_vm_readv/writev on this process, so the kernel
 * checks each page: a page that would raise SIGBUS (a private guest_memfd page) or SIGSEGV (PROT_NONE) makes the
 * call fail with EFAULT instead of killing the JVM. Pins are real: vmsplice into a pipe holds page references
 * until the pipe is closed.
 */
public class NativeMapping implements HostMapping {
    private static final int PID = Sys.C.getpid();
    private static final int PIPE_BYTES = 1 << 20;

    private final long address;
    private final long length;
    private final long fileOffset;
    private volatile boolean mapped = true;

    public NativeMapping(long address, long length, long fileOffset) {
        this.address = address;
        this.length = length;
        this.fileOffset = fileOffset;
    }

    @Override public long address() { return address; }

    @Override public long length() { return length; }

    @Override public long fileOffset() { return fileOffset; }

    /** Throws unless {@code [offset, offset+len)} lies inside the live mapping. */
    protected void checkRange(long offset, long len) {
        if (!mapped) throw new KvmException("host access", Errno.EFAULT, "mapping was unmapped");
        if (offset < 0 || len < 0 || offset + len > length || offset + len < offset)
            throw new IllegalArgumentException("range [0x" + Long.toHexString(offset) + ", +0x" + Long.toHexString(len)
                    + ") is outside the mapping of 0x" + Long.toHexString(length) + " bytes");
    }

    @Override public void read(long offset, byte[] dst, int dstOffset, int len) {
        checkRange(offset, len);
        if (len == 0) return;
        try (Memory buf = new Memory(IOVECS + len)) {
            copyIn(offset, buf, len);
            buf.read(IOVECS, dst, dstOffset, len);
        }
    }

    @Override public void write(long offset, byte[] src, int srcOffset, int len) {
        checkRange(offset, len);
        if (len == 0) return;
        try (Memory buf = new Memory(IOVECS + len)) {
            // Probe the whole range first so that a refused page leaves every byte as it was.
            copyIn(offset, buf, len);
            buf.write(IOVECS, src, srcOffset, len);
            transfer("host write", false, offset, buf, len);
        }
    }

    /** The two iovecs (local, remote) at the start of a transfer buffer; the bytes follow them. */
    private static final int IOVECS = 32;

    private void copyIn(long offset, Memory buf, int len) { transfer("host read", true, offset, buf, len); }

    /** Moves {@code len} bytes between the mapping at {@code offset} and {@code buf} after its iovecs. */
    private void transfer(String op, boolean read, long offset, Memory buf, int len) {
        long base = Pointer.nativeValue(buf);
        buf.setLong(0, base + IOVECS);
        buf.setLong(8, len);
        buf.setLong(16, address + offset);
        buf.setLong(24, len);
        long n = read ? DirectLibC.process_vm_readv(PID, base, 1, base + 16, 1, 0)
                      : DirectLibC.process_vm_writev(PID, base, 1, base + 16, 1, 0);
        if (n == -1) throw new KvmException(op, Native.getLastError(), "0x" + Long.toHexString(len) + " bytes at offset 0x"
                + Long.toHexString(offset) + ": a page in the range is not accessible to the host");
        if (n != len) throw new KvmException(op, Errno.EFAULT, "only 0x" + Long.toHexString(n) + " of 0x"
                + Long.toHexString(len) + " bytes at offset 0x" + Long.toHexString(offset) + " are accessible");
    }

    private static Memory iov(long base, long len) {
        Memory m = new Memory(16);
        m.setLong(0, base);
        m.setLong(8, len);
        return m;
    }

    @Override public PagePin pin(long offset, long len) {
        checkRange(offset, len);
        long start = offset & -Sys.PAGE_SIZE;
        long end = (offset + len + Sys.PAGE_SIZE - 1) & -Sys.PAGE_SIZE;
        List<int[]> pipes = new ArrayList<>();
        try {
            long at = start;
            while (at < end) {
                int[] p = new int[2];
                Sys.check("pipe2", Sys.C.pipe2(p, LibC.O_CLOEXEC));
                pipes.add(p);
                int cap = Sys.C.fcntl(p[1], LibC.F_SETPIPE_SZ, PIPE_BYTES);
                if (cap <= 0) cap = 16 * Sys.PAGE_SIZE;
                long chunk = Math.min(end - at, cap);
                long done = 0;
                while (done < chunk) {
                    try (Memory v = iov(address + at + done, chunk - done)) {
                        long n = Sys.check("vmsplice", Sys.C.vmsplice(p[1], v, new NativeLong(1), LibC.SPLICE_F_NONBLOCK));
                        if (n == 0) break;
                        done += n;
                    }
                }
                if (done == 0) throw new KvmException("vmsplice", Errno.EAGAIN, "pipe full");
                at += done;
            }
        } catch (RuntimeException e) {
            pipes.forEach(p -> { Sys.C.close(p[0]); Sys.C.close(p[1]); });
            throw e;
        }
        return new Pin(offset, len, pipes);
    }

    private record Pin(long offset, long length, List<int[]> pipes) implements PagePin {
        @Override public void close() {
            for (int[] p : pipes) {
                Sys.C.close(p[0]);
                Sys.C.close(p[1]);
            }
            pipes.clear();
        }
    }

    @Override public long residentBytes(long offset, long len) {
        checkRange(offset, len);
        long start = offset & -Sys.PAGE_SIZE;
        long end = Math.min(length, (offset + len + Sys.PAGE_SIZE - 1) & -Sys.PAGE_SIZE);
        if (end <= start) return 0;
        long resident = 0;
        long step = 1L << 30;
        for (long at = start; at < end; at += step) {
            long n = Math.min(step, end - at);
            byte[] vec = new byte[(int) ((n + Sys.PAGE_SIZE - 1) / Sys.PAGE_SIZE)];
            Sys.check("mincore", Sys.C.mincore(new Pointer(address + at), n, vec));
            for (byte b : vec) if ((b & 1) != 0) resident += Sys.PAGE_SIZE;
        }
        return resident;
    }

    /** Changes the protection of part of the mapping (the software KVM revokes host access to private pages). */
    public void mprotect(long offset, long len, int prot) {
        checkRange(offset, len);
        Sys.check("mprotect", DirectLibC.mprotect(address + offset, len, prot));
    }

    public boolean isMapped() { return mapped; }

    @Override public synchronized void close() {
        if (!mapped) return;
        mapped = false;
        Sys.check("munmap", Sys.C.munmap(new Pointer(address), length));
    }
}
