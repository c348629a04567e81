package org.janus.kvm.libc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.junit.jupiter.api.Test;

/**
 * The directly bound calls report what the kernel said as the interface-bound ones did: the result, and on failure the
 * calling thread's errno, named with the operation.
 */
class DirectLibCTest {
    private static final int P = Sys.PAGE_SIZE;
    /** _IO(0xAE, 0x00), KVM_GET_API_VERSION: not an ioctl a memfd knows. */
    private static final long KVM_GET_API_VERSION = 0xAE00;

    @Test
    void ioctlOnADescriptorThatDoesNotKnowItIsEnotty() {
        try (Memfd f = Memfd.create("t", P)) {
            KvmException e = assertThrows(KvmException.class, () -> Sys.ioctl("KVM_GET_API_VERSION", f.fd(), KVM_GET_API_VERSION, 0L));
            assertEquals(Errno.ENOTTY, e.errno());
            assertEquals("KVM_GET_API_VERSION", e.operation());
            assertArrayEquals(new int[] {-1, Errno.ENOTTY}, Sys.ioctlRaw(f.fd(), KVM_GET_API_VERSION, 0L));
            assertArrayEquals(new int[] {-1, Errno.ENOTTY}, Sys.ioctlRaw(f.fd(), KVM_GET_API_VERSION, (com.sun.jna.Pointer) null));
        }
        assertArrayEquals(new int[] {-1, Errno.EBADF}, Sys.ioctlRaw(-1, KVM_GET_API_VERSION, 0L));
    }

    @Test
    void fallocateAndFileIoReportTheKernelsAnswer() {
        try (Memfd f = Memfd.create("t", 4L * P)) {
            assertEquals(3, f.pwrite(P, new byte[] {7, 8, 9}));
            assertArrayEquals(new byte[] {7, 8, 9}, f.pread(P, 3));
            // Reading at the end of the file gives what is there: nothing.
            assertEquals(0, f.pread(4L * P, 8).length);
            // PUNCH_HOLE without KEEP_SIZE: the kernel refuses the mode.
            KvmException e = assertThrows(KvmException.class, () -> f.fallocate(0x02, 0, P));
            assertEquals(Errno.EOPNOTSUPP, e.errno());
            assertEquals("fallocate", e.operation());
            f.punchHole(P, P);
            assertArrayEquals(new byte[3], f.pread(P, 3));
        }
    }

    @Test
    void mprotectOfAnAddressNotMappedIsEnomem() {
        NativeMapping nowhere = new NativeMapping(0, P, 0);
        KvmException e = assertThrows(KvmException.class, () -> nowhere.mprotect(0, P, LibC.PROT_NONE));
        assertEquals(Errno.ENOMEM, e.errno());
    }
}
