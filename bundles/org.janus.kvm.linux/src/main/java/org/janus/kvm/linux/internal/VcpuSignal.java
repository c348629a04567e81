package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.libc.LibC;
import com.sun.jna.Native;

/**
 * The signal that kicks a vCPU thread out of KVM_RUN (QEMU's SIG_IPI): a real-time signal, SIGRTMIN + 5, with a
 * handler that does nothing and without SA_RESTART, so that the kernel leaves the guest and KVM_RUN returns EINTR.
 * The handler must be native and async-signal-safe: it is libc's {@code getpid}, called with the signal number as
 * an argument it ignores. Installed once per process, at the first kick.
 */
final class VcpuSignal {
    /** glibc's struct sigaction on x86-64 and aarch64. */
    private static final int SIGACTION_SIZE = 152;
    private static final int SA_MASK_OFFSET = 8;
    private static final int SA_FLAGS_OFFSET = 136;

    /** tgkill's answer for a thread that has gone: nothing to kick. */
    private static final int ESRCH = 3;

    private static volatile int signal;

    private VcpuSignal() {}

    /** The kick signal, its handler installed. */
    static int number() {
        int s = signal;
        if (s != 0) return s;
        synchronized (VcpuSignal.class) {
            if (signal == 0) signal = install();
            return signal;
        }
    }

    private static int install() {
        int sig = LibC.INSTANCE.__libc_current_sigrtmin() + 5;
        Pointer handler = NativeLibrary.getInstance("c").getFunction("getpid");
        Memory act = new Memory(SIGACTION_SIZE);
        act.clear();
        act.setPointer(0, handler);
        act.setInt(SA_FLAGS_OFFSET, 0);     // no SA_RESTART: the interrupted KVM_RUN returns EINTR
        assert SA_MASK_OFFSET + 128 == SA_FLAGS_OFFSET;
        if (LibC.INSTANCE.sigaction(sig, act, null) != 0) throw new KvmException("sigaction", Native.getLastError());
        return sig;
    }

    /** Sends the kick to thread {@code tid} of this process; a thread that has just left KVM_RUN ignores it. */
    static void kick(int tid) {
        if (LibC.INSTANCE.tgkill(LibC.INSTANCE.getpid(), tid, number()) != 0) {
            int errno = Native.getLastError();
            if (errno != ESRCH) throw new KvmException("tgkill", errno);
        }
    }
}
