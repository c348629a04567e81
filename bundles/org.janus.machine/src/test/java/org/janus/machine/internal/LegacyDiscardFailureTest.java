package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.memory.spi.BackedGuestRam;
import org.junit.jupiter.api.Test;

/**
 * A legacy conversion whose discard of the stale face fails part-way (ENOMEM on the second fallocate) is done,
 * not undone: undoing it used to bring back pages whose stale face an earlier discard of the same request had
 * already punched, so a refused request lost the host's data. The face left allocated is discarded before its
 * pages turn back to it, and a conversion that needs it while that still fails is refused with nothing changed.
 */
class LegacyDiscardFailureTest {
    static final long M = 1 << 20;
    static final long P = 4096;

    private static long word(GuestRam ram, long gpa) {
        byte[] b = ram.read(gpa, 8);
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xff);
        return v;
    }

    private static void write(GuestRam ram, long gpa, long value) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (value >>> (8 * i));
        ram.write(gpa, b);
    }

    @Test
    void aFailedDiscardDoesNotUndoTheConversionAndIsFinishedBeforeThePagesReturn() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);
             GuestRam ram = new LegacyBackend(true).create(kvm, vm, new RamRegion("low", 0, 0, 16 * M), PageState.SHARED)) {
            // Two shared runs in [4M, 8M): the request below discards two stale faces, with two fallocate calls.
            ram.convert(6 * M, P, PageState.PRIVATE);
            write(ram, 4 * M, 0x1111);
            write(ram, 7 * M, 0x7777);
            kvm.injectFault("fallocate", Errno.ENOMEM, 1);

            ram.convert(4 * M, 4 * M, PageState.PRIVATE);
            assertTrue(ram.isUniform(4 * M, 4 * M, PageState.PRIVATE), "the conversion is done");
            assertTrue(kvm.isPrivate(vm, 4 * M) && kvm.isPrivate(vm, 7 * M), "KVM agrees");
            assertEquals(2 * M - P, ((BackedGuestRam) ram).staleBytes(), "the run whose discard failed stays allocated");
            assertThrows(MemoryException.class, () -> ram.read(4 * M, 8), "private pages refuse the host");

            // Back to shared: the stale face is discarded first, so both runs read as a fresh legacy face (zero).
            ram.convert(4 * M, 4 * M, PageState.SHARED);
            assertEquals(0, ((BackedGuestRam) ram).staleBytes());
            assertEquals(0, word(ram, 4 * M));
            assertEquals(0, word(ram, 7 * M), "the stale face's old word does not come back");
        }
    }

    @Test
    void aConversionThatNeedsAStaleFaceGoneIsRefusedWhileItsDiscardFails() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);
             GuestRam ram = new LegacyBackend(true).create(kvm, vm, new RamRegion("low", 0, 0, 16 * M), PageState.SHARED)) {
            write(ram, 2 * M, 0x2222);
            kvm.injectFault("fallocate", Errno.ENOMEM, 0);
            ram.convert(2 * M, M, PageState.PRIVATE);
            assertEquals(M, ((BackedGuestRam) ram).staleBytes());

            // Turning the pages back needs the stale shared face gone; the discard fails again: refused, nothing changed.
            kvm.injectFault("fallocate", Errno.ENOMEM, 0);
            MemoryException e = assertThrows(MemoryException.class, () -> ram.convert(2 * M, M, PageState.SHARED));
            assertEquals(MemoryException.Step.DISCARD, e.step());
            assertTrue(e.getMessage().contains("must be discarded before it is used again"), e.getMessage());
            assertTrue(ram.isUniform(2 * M, M, PageState.PRIVATE), "nothing changed");
            assertTrue(kvm.isPrivate(vm, 2 * M));
            assertEquals(M, ((BackedGuestRam) ram).staleBytes());

            // Another conversion elsewhere tries again in passing; then the pages return, zeroed.
            ram.convert(10 * M, P, PageState.PRIVATE);
            assertEquals(0, ((BackedGuestRam) ram).staleBytes());
            ram.convert(2 * M, M, PageState.SHARED);
            assertEquals(0, word(ram, 2 * M));
        }
    }
}
