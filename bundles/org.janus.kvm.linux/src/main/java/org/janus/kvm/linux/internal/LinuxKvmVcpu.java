package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.util.List;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.libc.Sys;
import org.janus.kvm.linux.internal.Structs.KvmCpuid2;
import org.janus.kvm.linux.internal.Structs.KvmCpuidEntry2;
import org.janus.kvm.linux.internal.Structs.KvmDtable;
import org.janus.kvm.linux.internal.Structs.KvmPreFaultMemory;
import org.janus.kvm.linux.internal.Structs.KvmRegs;
import org.janus.kvm.linux.internal.Structs.KvmRun;
import org.janus.kvm.linux.internal.Structs.KvmSegment;
import org.janus.kvm.linux.internal.Structs.KvmSregs;

/**
 * A vCPU fd of the real KVM and its mmapped kvm_run. The mapping is released only when no KVM_RUN is in flight, so
 * closing the vCPU from another thread never leaves {@link #run()} reading unmapped memory.
 */
final class LinuxKvmVcpu implements KvmVcpu {
    private final int id;
    private final KvmFd fd;
    private final Pointer run;
    private final long runSize;
    private final Object lock = new Object();
    private boolean running;
    /** The kernel id of the thread inside KVM_RUN, for the kick; 0 when none is. */
    private int runningTid;
    private boolean closed;
    private VcpuExit last;

    LinuxKvmVcpu(int id, int fd, Pointer run, long runSize) {
        this.id = id;
        this.fd = new KvmFd(fd);
        this.run = run;
        this.runSize = runSize;
    }

    @Override public int id() { return id; }

    @Override public VcpuExit run() {
        synchronized (lock) {
            requireOpen("KVM_RUN");
            if (running) throw new IllegalStateException("vCPU " + id + " is already running on another thread");
            running = true;
            runningTid = org.janus.kvm.libc.LibC.INSTANCE.gettid();
            // exit_reason is only rewritten by the next exit; a memory fault left in it must not be read again
            // when a later KVM_RUN fails with an unrelated EFAULT.
            if (last instanceof VcpuExit.MemoryFault) KvmRun.EXIT_REASON.put(run, ExitReason.UNKNOWN);
            last = null;
        }
        VcpuExit exit = null;
        try {
            int[] r = fd.ioctlRaw(Ioctls.KVM_RUN, (Pointer) null);
            exit = r[0] == -1 ? failedRun(r[1]) : decode();
            return exit;
        } finally {
            synchronized (lock) {
                running = false;
                runningTid = 0;
                last = exit;
                if (closed) unmap();
            }
        }
    }

    /** KVM_RUN returned -1: a memory fault and EINTR are exits; everything else is an error. */
    private VcpuExit failedRun(int errno) {
        if (errno == Errno.EINTR) return new VcpuExit.Interrupted();
        if ((errno == Errno.EFAULT || errno == Errno.EHWPOISON)
                && KvmRun.EXIT_REASON.get(run) == ExitReason.MEMORY_FAULT)
            return memoryFault(errno);
        throw new KvmException("KVM_RUN", errno);
    }

    private VcpuExit memoryFault(int errno) {
        return new VcpuExit.MemoryFault(KvmRun.MEMORY_FAULT_FLAGS.get(run), KvmRun.MEMORY_FAULT_GPA.get(run),
                KvmRun.MEMORY_FAULT_SIZE.get(run), errno);
    }

    private VcpuExit decode() {
        int reason = (int) KvmRun.EXIT_REASON.get(run);
        return switch (reason) {
            case ExitReason.IO -> decodeIo();
            case ExitReason.HYPERCALL -> new VcpuExit.Hypercall(KvmRun.HYPERCALL_NR.get(run),
                    words(KvmRun.HYPERCALL_ARGS, KvmRun.HYPERCALL_ARGS.count()), KvmRun.HYPERCALL_FLAGS.get(run));
            case ExitReason.HLT -> new VcpuExit.Hlt();
            case ExitReason.MMIO -> decodeMmio();
            case ExitReason.SHUTDOWN -> new VcpuExit.Shutdown();
            case ExitReason.FAIL_ENTRY -> new VcpuExit.FailEntry(KvmRun.FAIL_ENTRY_REASON.get(run),
                    (int) KvmRun.FAIL_ENTRY_CPU.get(run));
            case ExitReason.INTR -> new VcpuExit.Interrupted();
            case ExitReason.INTERNAL_ERROR -> new VcpuExit.InternalError((int) KvmRun.INTERNAL_SUBERROR.get(run),
                    words(KvmRun.INTERNAL_DATA, (int) KvmRun.INTERNAL_NDATA.get(run)));
            case ExitReason.SYSTEM_EVENT -> new VcpuExit.SystemEvent((int) KvmRun.SYSTEM_EVENT_TYPE.get(run),
                    words(KvmRun.SYSTEM_EVENT_DATA, (int) KvmRun.SYSTEM_EVENT_NDATA.get(run)));
            case ExitReason.MEMORY_FAULT -> memoryFault(0);
            default -> new VcpuExit.Unsupported(reason);
        };
    }

    private VcpuExit decodeIo() {
        int direction = (int) KvmRun.IO_DIRECTION.get(run);
        int size = (int) KvmRun.IO_SIZE.get(run);
        int count = (int) KvmRun.IO_COUNT.get(run);
        byte[] data = new byte[size * count];
        if (direction == ExitReason.IO_OUT) run.read(ioDataOffset(data.length), data, 0, data.length);
        return new VcpuExit.Io(direction, size, (int) KvmRun.IO_PORT.get(run), count, data);
    }

    /** Where the I/O data lies in the mapping, checked against its size. */
    private long ioDataOffset(int length) {
        long offset = KvmRun.IO_DATA_OFFSET.get(run);
        if (offset < 0 || offset + length > runSize)
            throw new IllegalStateException("kvm_run io.data_offset 0x" + Long.toHexString(offset) + " (+" + length
                    + ") lies outside the 0x" + Long.toHexString(runSize) + "-byte mapping");
        return offset;
    }

    private VcpuExit decodeMmio() {
        int len = (int) Math.min(KvmRun.MMIO_LEN.get(run), KvmRun.MMIO_DATA.count());
        boolean write = KvmRun.MMIO_IS_WRITE.get(run) != 0;
        byte[] data = new byte[len];
        if (write) run.read(KvmRun.MMIO_DATA.offset(), data, 0, len);
        return new VcpuExit.Mmio(KvmRun.MMIO_PHYS_ADDR.get(run), data, (int) KvmRun.MMIO_LEN.get(run), write);
    }

    private long[] words(CField field, int n) {
        long[] w = new long[Math.max(0, Math.min(n, field.count()))];
        for (int i = 0; i < w.length; i++) w[i] = field.get(run, i);
        return w;
    }

    @Override public void setImmediateExit(boolean immediateExit) {
        synchronized (lock) {
            requireOpen("immediate_exit");
            KvmRun.IMMEDIATE_EXIT.put(run, immediateExit ? 1 : 0);
        }
    }

    /**
     * immediate_exit for the next KVM_RUN, and the kick signal for the one in progress: KVM leaves the guest at the
     * signal and KVM_RUN returns EINTR. The signal goes only while the lock shows a thread inside KVM_RUN.
     */
    @Override public void kick() {
        synchronized (lock) {
            requireOpen("kick");
            KvmRun.IMMEDIATE_EXIT.put(run, 1);
            if (running && runningTid != 0) VcpuSignal.kick(runningTid);
        }
    }

    @Override public void completeHypercall(long ret) {
        synchronized (lock) {
            requireOpen("hypercall.ret");
            if (!(last instanceof VcpuExit.Hypercall))
                throw new IllegalStateException("the last exit was not a hypercall: " + last);
            KvmRun.HYPERCALL_RET.put(run, ret);
        }
    }

    @Override public void completeIo(byte[] data) {
        synchronized (lock) {
            requireOpen("io data");
            if (!(last instanceof VcpuExit.Io io) || io.isOut())
                throw new IllegalStateException("the last exit was not an IN: " + last);
            if (data.length != io.size() * io.count())
                throw new IllegalArgumentException("IN of " + io.count() + " x " + io.size() + " bytes, not " + data.length);
            run.write(ioDataOffset(data.length), data, 0, data.length);
        }
    }

    @Override public void completeMmio(byte[] data) {
        synchronized (lock) {
            requireOpen("mmio data");
            if (!(last instanceof VcpuExit.Mmio mmio) || mmio.isWrite())
                throw new IllegalStateException("the last exit was not an MMIO read: " + last);
            if (data.length != mmio.len() || data.length > KvmRun.MMIO_DATA.count())
                throw new IllegalArgumentException("MMIO read of " + mmio.len() + " bytes, not " + data.length);
            run.write(KvmRun.MMIO_DATA.offset(), data, 0, data.length);
        }
    }

    @Override public Regs getRegs() {
        try (Memory s = KvmRegs.T.allocate()) {
            fd.ioctl("KVM_GET_REGS", Ioctls.KVM_GET_REGS, s);
            return new Regs(KvmRegs.RAX.get(s), KvmRegs.RBX.get(s), KvmRegs.RCX.get(s), KvmRegs.RDX.get(s),
                    KvmRegs.RSI.get(s), KvmRegs.RDI.get(s), KvmRegs.RSP.get(s), KvmRegs.RBP.get(s), KvmRegs.R8.get(s),
                    KvmRegs.R9.get(s), KvmRegs.R10.get(s), KvmRegs.R11.get(s), KvmRegs.R12.get(s), KvmRegs.R13.get(s),
                    KvmRegs.R14.get(s), KvmRegs.R15.get(s), KvmRegs.RIP.get(s), KvmRegs.RFLAGS.get(s));
        }
    }

    @Override public void setRegs(Regs r) {
        try (Memory s = KvmRegs.T.allocate()) {
            KvmRegs.RAX.put(s, r.rax());
            KvmRegs.RBX.put(s, r.rbx());
            KvmRegs.RCX.put(s, r.rcx());
            KvmRegs.RDX.put(s, r.rdx());
            KvmRegs.RSI.put(s, r.rsi());
            KvmRegs.RDI.put(s, r.rdi());
            KvmRegs.RSP.put(s, r.rsp());
            KvmRegs.RBP.put(s, r.rbp());
            KvmRegs.R8.put(s, r.r8());
            KvmRegs.R9.put(s, r.r9());
            KvmRegs.R10.put(s, r.r10());
            KvmRegs.R11.put(s, r.r11());
            KvmRegs.R12.put(s, r.r12());
            KvmRegs.R13.put(s, r.r13());
            KvmRegs.R14.put(s, r.r14());
            KvmRegs.R15.put(s, r.r15());
            KvmRegs.RIP.put(s, r.rip());
            KvmRegs.RFLAGS.put(s, r.rflags());
            fd.ioctl("KVM_SET_REGS", Ioctls.KVM_SET_REGS, s);
        }
    }

    private static final CField[] SEGMENTS = {KvmSregs.CS, KvmSregs.DS, KvmSregs.ES, KvmSregs.FS, KvmSregs.GS,
            KvmSregs.SS, KvmSregs.TR, KvmSregs.LDT};

    @Override public Sregs getSregs() {
        try (Memory s = KvmSregs.T.allocate()) {
            fd.ioctl("KVM_GET_SREGS", Ioctls.KVM_GET_SREGS, s);
            Sregs.Segment[] seg = new Sregs.Segment[SEGMENTS.length];
            for (int i = 0; i < seg.length; i++) seg[i] = readSegment(SEGMENTS[i].share(s, 0));
            long[] bitmap = new long[KvmSregs.INTERRUPT_BITMAP.count()];
            for (int i = 0; i < bitmap.length; i++) bitmap[i] = KvmSregs.INTERRUPT_BITMAP.get(s, i);
            return new Sregs(seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
                    readDtable(KvmSregs.GDT.share(s, 0)), readDtable(KvmSregs.IDT.share(s, 0)),
                    KvmSregs.CR0.get(s), KvmSregs.CR2.get(s), KvmSregs.CR3.get(s), KvmSregs.CR4.get(s),
                    KvmSregs.CR8.get(s), KvmSregs.EFER.get(s), KvmSregs.APIC_BASE.get(s), bitmap);
        }
    }

    @Override public void setSregs(Sregs r) {
        try (Memory s = KvmSregs.T.allocate()) {
            Sregs.Segment[] seg = {r.cs(), r.ds(), r.es(), r.fs(), r.gs(), r.ss(), r.tr(), r.ldt()};
            for (int i = 0; i < seg.length; i++) writeSegment(SEGMENTS[i].share(s, 0), seg[i]);
            writeDtable(KvmSregs.GDT.share(s, 0), r.gdt());
            writeDtable(KvmSregs.IDT.share(s, 0), r.idt());
            KvmSregs.CR0.put(s, r.cr0());
            KvmSregs.CR2.put(s, r.cr2());
            KvmSregs.CR3.put(s, r.cr3());
            KvmSregs.CR4.put(s, r.cr4());
            KvmSregs.CR8.put(s, r.cr8());
            KvmSregs.EFER.put(s, r.efer());
            KvmSregs.APIC_BASE.put(s, r.apicBase());
            long[] bitmap = r.interruptBitmap();
            for (int i = 0; i < bitmap.length; i++) KvmSregs.INTERRUPT_BITMAP.put(s, i, bitmap[i]);
            fd.ioctl("KVM_SET_SREGS", Ioctls.KVM_SET_SREGS, s);
        }
    }

    private static Sregs.Segment readSegment(Pointer p) {
        return new Sregs.Segment(KvmSegment.BASE.get(p), (int) KvmSegment.LIMIT.get(p), (int) KvmSegment.SELECTOR.get(p),
                (int) KvmSegment.TYPE.get(p), (int) KvmSegment.PRESENT.get(p), (int) KvmSegment.DPL.get(p),
                (int) KvmSegment.DB.get(p), (int) KvmSegment.S.get(p), (int) KvmSegment.L.get(p),
                (int) KvmSegment.G.get(p), (int) KvmSegment.AVL.get(p), (int) KvmSegment.UNUSABLE.get(p));
    }

    private static void writeSegment(Pointer p, Sregs.Segment v) {
        KvmSegment.BASE.put(p, v.base());
        KvmSegment.LIMIT.put(p, v.limit());
        KvmSegment.SELECTOR.put(p, v.selector());
        KvmSegment.TYPE.put(p, v.type());
        KvmSegment.PRESENT.put(p, v.present());
        KvmSegment.DPL.put(p, v.dpl());
        KvmSegment.DB.put(p, v.db());
        KvmSegment.S.put(p, v.s());
        KvmSegment.L.put(p, v.l());
        KvmSegment.G.put(p, v.g());
        KvmSegment.AVL.put(p, v.avl());
        KvmSegment.UNUSABLE.put(p, v.unusable());
    }

    private static Sregs.DTable readDtable(Pointer p) {
        return new Sregs.DTable(KvmDtable.BASE.get(p), (int) KvmDtable.LIMIT.get(p));
    }

    private static void writeDtable(Pointer p, Sregs.DTable v) {
        KvmDtable.BASE.put(p, v.base());
        KvmDtable.LIMIT.put(p, v.limit());
    }

    @Override public void setCpuid2(List<CpuidEntry> entries) {
        try (Memory m = CStruct.allocate(KvmCpuid2.ENTRIES + (long) Math.max(entries.size(), 1) * KvmCpuidEntry2.T.size())) {
            KvmCpuid2.NENT.put(m, entries.size());
            for (int i = 0; i < entries.size(); i++)
                Cpuid.write(m.share(KvmCpuid2.ENTRIES + (long) i * KvmCpuidEntry2.T.size()), entries.get(i));
            fd.ioctl("KVM_SET_CPUID2", Ioctls.KVM_SET_CPUID2, m);
        }
    }

    @Override public void enableCap(EnableCap cap) { LinuxKvmVm.enableCap(fd, cap); }

    @Override public long preFaultMemory(long gpa, long size) {
        try (Memory s = KvmPreFaultMemory.T.allocate()) {
            KvmPreFaultMemory.GPA.put(s, gpa);
            KvmPreFaultMemory.SIZE.put(s, size);
            fd.ioctl("KVM_PRE_FAULT_MEMORY", Ioctls.KVM_PRE_FAULT_MEMORY, s);
            return KvmPreFaultMemory.SIZE.get(s);
        }
    }

    @Override public long memoryEncryptOp(org.janus.kvm.api.TdxCommand command) { return TdxIoctl.issue(fd, command); }

    private void requireOpen(String operation) {
        if (closed) throw new KvmException(operation, Errno.EBADF, "vCPU " + id + " is closed");
    }

    private void unmap() {
        if (Pointer.nativeValue(run) != 0) Sys.C.munmap(run, runSize);
    }

    @Override public void close() {
        synchronized (lock) {
            if (closed) return;
            closed = true;
            fd.close();
            if (!running) unmap();
        }
    }

    @Override public String toString() { return "LinuxKvmVcpu[" + id + ", fd " + fd.fd() + "]"; }
}
