package org.janus.kvm.api;

/**
 * A KVM ioctl or guest_memfd file operation failed. Carries the operation (the ioctl or syscall name, e.g.
 * {@code KVM_SET_MEMORY_ATTRIBUTES2}), the errno the kernel returned and, where the kernel reports one, the
 * {@code error_offset} of KVM_SET_MEMORY_ATTRIBUTES2 (EAGAIN on a page with extra references) or the firmware
 * status of KVM_MEMORY_ENCRYPT_OP.
 */
public class KvmException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** Value of {@link #errorOffset()} and {@link #firmwareError()} when the kernel reported none. */
    public static final long NONE = -1L;

    private final String operation;
    private final int errno;
    private final long errorOffset;
    private final long firmwareError;

    public KvmException(String operation, int errno) {
        this(operation, errno, NONE, NONE, null);
    }

    public KvmException(String operation, int errno, String detail) {
        this(operation, errno, NONE, NONE, detail);
    }

    public KvmException(String operation, int errno, long errorOffset, long firmwareError, String detail) {
        super(message(operation, errno, errorOffset, firmwareError, detail));
        this.operation = operation;
        this.errno = errno;
        this.errorOffset = errorOffset;
        this.firmwareError = firmwareError;
    }

    /** An EAGAIN from KVM_SET_MEMORY_ATTRIBUTES2 with the offset of the first page that could not be converted. */
    public static KvmException withErrorOffset(String operation, int errno, long errorOffset, String detail) {
        return new KvmException(operation, errno, errorOffset, NONE, detail);
    }

    public String operation() { return operation; }

    public int errno() { return errno; }

    /** The error_offset reported by KVM_SET_MEMORY_ATTRIBUTES2, or {@link #NONE}. */
    public long errorOffset() { return errorOffset; }

    /**
     * The firmware status of KVM_MEMORY_ENCRYPT_OP (SEV_RET_* in kvm_sev_cmd.error, the TDX module's SEAMCALL status
     * in kvm_tdx_cmd.hw_error), or {@link #NONE}.
     */
    public long firmwareError() { return firmwareError; }

    public boolean is(int expectedErrno) { return errno == expectedErrno; }

    private static String message(String op, int errno, long errorOffset, long fw, String detail) {
        StringBuilder b = new StringBuilder(op).append(" failed: ").append(Errno.name(errno));
        if (errorOffset != NONE) b.append(", error_offset=0x").append(Long.toHexString(errorOffset));
        if (fw != NONE) b.append(", firmware error=").append(fw);
        if (detail != null && !detail.isEmpty()) b.append(" (").append(detail).append(')');
        return b.toString();
    }
}
