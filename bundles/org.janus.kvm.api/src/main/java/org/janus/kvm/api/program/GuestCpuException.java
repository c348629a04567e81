package org.janus.kvm.api.program;

/**
 * An exception the hardware raises inside the guest, thrown by the {@link GuestCpu} call whose access caused it:
 * SEV-SNP's #VC with error code PAGE_NOT_VALIDATED for a private access to a page that is not validated (AMD64
 * Architecture Programmer's Manual, vol. 2, 15.36.10), TDX's #VE for a private access to a page the guest has not
 * accepted in a TD without SEPT_VE_DISABLE. The VMM sees nothing of it. A guest program that does not catch it ends
 * with SYSTEM_EVENT_CRASH and the exception in {@link ProgrammableVcpu#guestFailure()}, as a guest kernel that has no
 * handler for it would stop.
 */
public final class GuestCpuException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** #VE, the virtualization exception (vector 20). */
    public static final int VECTOR_VE = 20;
    /** #VC, the VMM communication exception (vector 29). */
    public static final int VECTOR_VC = 29;
    /** #VC error code PAGE_NOT_VALIDATED. */
    public static final long VC_PAGE_NOT_VALIDATED = 0x404;
    /** The exit reason a #VE reports for an EPT violation (EXIT_REASON_EPT_VIOLATION). */
    public static final long VE_EPT_VIOLATION = 48;

    private final int vector;
    private final long errorCode;
    private final long gpa;

    public GuestCpuException(int vector, long errorCode, long gpa, String message) {
        super(message);
        this.vector = vector;
        this.errorCode = errorCode;
        this.gpa = gpa;
    }

    /** The exception vector ({@link #VECTOR_VC}, {@link #VECTOR_VE}). */
    public int vector() { return vector; }

    /** The #VC error code, or the exit reason a #VE reports. */
    public long errorCode() { return errorCode; }

    /** The guest physical address of the access. */
    public long gpa() { return gpa; }
}
