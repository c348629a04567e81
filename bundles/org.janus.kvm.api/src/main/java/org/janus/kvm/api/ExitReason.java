package org.janus.kvm.api;

/** kvm_run.exit_reason values (KVM_EXIT_*). */
public final class ExitReason {
    public static final int UNKNOWN = 0;
    public static final int EXCEPTION = 1;
    public static final int IO = 2;
    public static final int HYPERCALL = 3;
    public static final int DEBUG = 4;
    public static final int HLT = 5;
    public static final int MMIO = 6;
    public static final int IRQ_WINDOW_OPEN = 7;
    public static final int SHUTDOWN = 8;
    public static final int FAIL_ENTRY = 9;
    public static final int INTR = 10;
    public static final int INTERNAL_ERROR = 17;
    public static final int SYSTEM_EVENT = 24;
    public static final int MEMORY_FAULT = 39;
    public static final int TDX = 40;

    /** kvm_run.memory_fault.flags: the faulting access was private. */
    public static final long MEMORY_EXIT_FLAG_PRIVATE = 1L << 3;

    /** kvm_run.system_event.type values. */
    public static final int SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int SYSTEM_EVENT_RESET = 2;
    public static final int SYSTEM_EVENT_CRASH = 3;
    public static final int SYSTEM_EVENT_WAKEUP = 4;
    public static final int SYSTEM_EVENT_SUSPEND = 5;
    public static final int SYSTEM_EVENT_SEV_TERM = 6;
    public static final int SYSTEM_EVENT_TDX_FATAL = 7;

    /** kvm_run.internal.suberror: KVM could not emulate an instruction. */
    public static final int INTERNAL_ERROR_EMULATION = 1;

    /** kvm_run.io.direction. */
    public static final int IO_IN = 0;
    public static final int IO_OUT = 1;

    private ExitReason() {}
}
