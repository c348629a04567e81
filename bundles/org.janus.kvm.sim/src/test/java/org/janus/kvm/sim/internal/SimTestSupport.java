package org.janus.kvm.sim.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.janus.kvm.api.KvmException;
import org.janus.kvm.libc.Sys;
import org.junit.jupiter.api.function.Executable;

final class SimTestSupport {
    static final int P = Sys.PAGE_SIZE;

    private SimTestSupport() {}

    /** Asserts that {@code call} fails with {@code errno} and returns the exception. */
    static KvmException assertErrno(int errno, Executable call) {
        KvmException e = assertThrows(KvmException.class, call);
        assertEquals(errno, e.errno(), () -> "expected " + org.janus.kvm.api.Errno.name(errno) + " but got: " + e.getMessage());
        return e;
    }
}
