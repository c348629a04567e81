package org.janus.kvm.libc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.PagePin;
import org.junit.jupiter.api.Test;

class NativeMappingTest {
    private static final int P = Sys.PAGE_SIZE;

    @Test
    void readsAndWritesThroughTheKernelAndCountsAllocation() {
        try (Memfd f = Memfd.create("t", 16L * P); HostMapping m = f.mmap(0, 16L * P, true)) {
            assertEquals(0, f.fstat().allocatedBytes());
            m.writeLong(P + 8, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, m.readLong(P + 8));
            assertEquals(P, f.fstat().allocatedBytes());
            assertEquals(P, m.residentBytes(0, 16L * P));
            f.punchHole(P, P);
            assertEquals(0, m.readLong(P + 8));
            assertEquals(16L * P, f.fstat().size());
        }
    }

    @Test
    void aProtectedPageFailsWithEfaultAndNothingIsWritten() {
        try (Memfd f = Memfd.create("t", 4L * P); NativeMapping m = (NativeMapping) f.mmap(0, 4L * P, true);
             HostMapping other = f.mmap(0, 4L * P, true)) {
            m.write(P - 4, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            m.mprotect(P, P, LibC.PROT_NONE);
            KvmException e = assertThrows(KvmException.class, () -> m.write(P - 4, new byte[] {9, 9, 9, 9, 9, 9, 9, 9}));
            assertEquals(Errno.EFAULT, e.errno());
            assertThrows(KvmException.class, () -> m.read(P, 8));
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, other.read(P - 4, 8));
        }
    }

    @Test
    void pinsHoldPagesUntilClosed() {
        try (Memfd f = Memfd.create("t", 512L * P); HostMapping m = f.mmap(0, 512L * P, true)) {
            m.write(0, new byte[512 * P]);
            try (PagePin pin = m.pin(0, 512L * P)) {
                assertEquals(512L * P, pin.length());
            }
        }
    }
}
