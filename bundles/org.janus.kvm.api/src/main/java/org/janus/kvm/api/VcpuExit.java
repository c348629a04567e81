package org.janus.kvm.api;

import java.util.Arrays;

/**
 * Why {@link KvmVcpu#run()} returned: one record per KVM_EXIT_* reason that Janus handles, decoded from
 * kvm_run. Answers to an exit (a hypercall's return value, the data of an IN or an MMIO read) go through
 * {@link KvmVcpu}, never by changing the record.
 */
public sealed interface VcpuExit {

    /** The KVM_EXIT_* number this exit was decoded from. */
    int reason();

    /**
     * KVM_EXIT_MEMORY_FAULT (KVM_RUN returned -1 with EFAULT or EHWPOISON): the guest accessed
     * [gpa, gpa+size) as private ({@link #isPrivate()}) or shared, and the memory attribute says otherwise,
     * or the backing is missing. Userspace converts and runs the vCPU again.
     */
    record MemoryFault(long flags, long gpa, long size, int errno) implements VcpuExit {
        public int reason() { return ExitReason.MEMORY_FAULT; }
        public boolean isPrivate() { return (flags & ExitReason.MEMORY_EXIT_FLAG_PRIVATE) != 0; }
    }

    /** KVM_EXIT_HYPERCALL: complete it with {@link KvmVcpu#completeHypercall(long)} before the next run. */
    record Hypercall(long nr, long[] args, long flags) implements VcpuExit {
        public Hypercall { args = args.clone(); }
        public int reason() { return ExitReason.HYPERCALL; }
        public long arg(int i) { return args[i]; }
        @Override public long[] args() { return args.clone(); }
        @Override public boolean equals(Object o) {
            return o instanceof Hypercall h && h.nr == nr && h.flags == flags && Arrays.equals(h.args, args);
        }
        @Override public int hashCode() { return Long.hashCode(nr) * 31 + Arrays.hashCode(args); }
        @Override public String toString() {
            return "Hypercall[nr=" + nr + ", args=" + Arrays.toString(args) + ", flags=" + flags + "]";
        }
    }

    /**
     * KVM_EXIT_IO: port I/O. For OUT, {@code data} holds what the guest wrote ({@code size * count} bytes);
     * for IN, supply the bytes with {@link KvmVcpu#completeIo(byte[])}.
     */
    record Io(int direction, int size, int port, int count, byte[] data) implements VcpuExit {
        public Io { data = data.clone(); }
        public int reason() { return ExitReason.IO; }
        public boolean isOut() { return direction == ExitReason.IO_OUT; }
        @Override public byte[] data() { return data.clone(); }
        /** The first {@code size} bytes of the data as a little-endian unsigned value. */
        public long value() {
            long v = 0;
            for (int i = Math.min(size, data.length) - 1; i >= 0; i--) v = (v << 8) | (data[i] & 0xff);
            return v;
        }
        @Override public boolean equals(Object o) {
            return o instanceof Io i && i.direction == direction && i.size == size && i.port == port
                    && i.count == count && Arrays.equals(i.data, data);
        }
        @Override public int hashCode() { return port * 31 + Arrays.hashCode(data); }
        @Override public String toString() {
            return "Io[" + (isOut() ? "out" : "in") + ", port=0x" + Integer.toHexString(port) + ", size=" + size
                    + ", count=" + count + ", value=0x" + Long.toHexString(value()) + "]";
        }
    }

    /** KVM_EXIT_MMIO. For a read, supply the bytes with {@link KvmVcpu#completeMmio(byte[])}. */
    record Mmio(long physAddr, byte[] data, int len, boolean isWrite) implements VcpuExit {
        public Mmio { data = data.clone(); }
        public int reason() { return ExitReason.MMIO; }
        @Override public byte[] data() { return data.clone(); }
        @Override public boolean equals(Object o) {
            return o instanceof Mmio m && m.physAddr == physAddr && m.len == len && m.isWrite == isWrite
                    && Arrays.equals(m.data, data);
        }
        @Override public int hashCode() { return Long.hashCode(physAddr) * 31 + Arrays.hashCode(data); }
        @Override public String toString() {
            return "Mmio[0x" + Long.toHexString(physAddr) + ", len=" + len + ", write=" + isWrite + "]";
        }
    }

    /** KVM_EXIT_HLT: the guest halted (no in-kernel local APIC). */
    record Hlt() implements VcpuExit {
        public int reason() { return ExitReason.HLT; }
    }

    /** KVM_EXIT_SHUTDOWN: triple fault or similar; the vCPU cannot continue. */
    record Shutdown() implements VcpuExit {
        public int reason() { return ExitReason.SHUTDOWN; }
    }

    /** KVM_EXIT_SYSTEM_EVENT, e.g. {@link ExitReason#SYSTEM_EVENT_SEV_TERM} with data[0] the GHCB GPA. */
    record SystemEvent(int type, long[] data) implements VcpuExit {
        public SystemEvent { data = data.clone(); }
        public int reason() { return ExitReason.SYSTEM_EVENT; }
        @Override public long[] data() { return data.clone(); }
        @Override public boolean equals(Object o) {
            return o instanceof SystemEvent s && s.type == type && Arrays.equals(s.data, data);
        }
        @Override public int hashCode() { return type * 31 + Arrays.hashCode(data); }
        @Override public String toString() { return "SystemEvent[type=" + type + ", data=" + Arrays.toString(data) + "]"; }
    }

    /** KVM_EXIT_INTERNAL_ERROR, e.g. {@link ExitReason#INTERNAL_ERROR_EMULATION}. */
    record InternalError(int suberror, long[] data) implements VcpuExit {
        public InternalError { data = data.clone(); }
        public int reason() { return ExitReason.INTERNAL_ERROR; }
        @Override public long[] data() { return data.clone(); }
        @Override public boolean equals(Object o) {
            return o instanceof InternalError e && e.suberror == suberror && Arrays.equals(e.data, data);
        }
        @Override public int hashCode() { return suberror * 31 + Arrays.hashCode(data); }
        @Override public String toString() { return "InternalError[suberror=" + suberror + ", data=" + Arrays.toString(data) + "]"; }
    }

    /** KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the guest. */
    record FailEntry(long hardwareEntryFailureReason, int cpu) implements VcpuExit {
        public int reason() { return ExitReason.FAIL_ENTRY; }
    }

    /**
     * KVM_RUN returned -1/EINTR (a signal, or {@link KvmVcpu#setImmediateExit(boolean) immediate_exit}) or
     * exited with KVM_EXIT_INTR. The guest's state is intact; run again to continue.
     */
    record Interrupted() implements VcpuExit {
        public int reason() { return ExitReason.INTR; }
    }

    /** An exit reason this API does not decode (newer kernels, other architectures). */
    record Unsupported(int reason) implements VcpuExit {}
}
