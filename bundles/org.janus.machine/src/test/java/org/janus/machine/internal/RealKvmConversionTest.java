package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.conformance.RealModeCode;
import org.janus.kvm.linux.LinuxKvmDevice;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The legacy backend and the conversion engine serving a real software-protected guest on the real kernel: the
 * guest (real-mode x86) asks for conversions with KVM_HC_MAP_GPA_RANGE, Janus converts (VM attributes, discard of
 * the stale side), and guest and host both check contents and isolation after each step. It needs a KVM with VM
 * type 1, which the nested environment provides (itests/nested-kvm/run-kvm-tests.sh); elsewhere it skips.
 */
@Tag("real-kvm")
class RealKvmConversionTest {
    static final long M = 1 << 20;
    static final long CODE = 0x1000;
    static final long DATA = 0x20000;
    static final int PORT_VALUE = 0x10;
    static final int PORT_STEP = 0x11;
    static final long PATTERN_A = 0xa1a1a1a1L;
    static final long PATTERN_B = 0xb2b2b2b2L;
    static final long ENCRYPTED = Hypercalls.MAP_GPA_RANGE_ENCRYPTED;
    static final long DECRYPTED = Hypercalls.MAP_GPA_RANGE_DECRYPTED;

    @Test
    void legacyBackendConvertsForARealSoftwareProtectedGuest() {
        assumeTrue(new File(LinuxKvmDevice.PATH).exists(), "no /dev/kvm on this host");
        assumeFalse(LinuxKvmDevice.isPvm(), "the host's KVM is kvm-pvm, which cannot run a real-mode guest's hypercall");
        Kvm kvm = LinuxKvmDevice.open();
        assumeTrue((kvm.checkExtension(KvmCap.VM_TYPES) & (1 << VmType.X86_SW_PROTECTED)) != 0,
                "no software-protected VM type (KVM_CAP_VM_TYPES=0x" + Integer.toHexString(kvm.checkExtension(KvmCap.VM_TYPES))
                        + "); the nested environment's rebuilt kvm has it");
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED)) {
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
            LegacyBackend backend = new LegacyBackend(true);
            assertTrue(backend.suitability(vm).usable(), backend.suitability(vm).reason());
            GuestRam ram = backend.create(kvm, vm, new RamRegion("ram", 0, 0, M), PageState.SHARED);
            ConversionEngine engine = new ConversionEngine(new GuestMemoryMap(List.of(ram), List.of()));
            long nr = Hypercalls.KVM_HC_MAP_GPA_RANGE;
            int dwords = 4096 / 4;
            RealModeCode code = new RealModeCode()
                    .dataSegments(DATA)
                    .fill(0, dwords, PATTERN_A).out(PORT_STEP, 1)
                    .hypercall(nr, DATA, 1, ENCRYPTED).outEax(PORT_VALUE)
                    .loadEax(0).outEax(PORT_VALUE)
                    .fill(0, dwords, PATTERN_B).out(PORT_STEP, 2)
                    .hypercall(nr, DATA, 1, DECRYPTED).outEax(PORT_VALUE)
                    .loadEax(0).outEax(PORT_VALUE).out(PORT_STEP, 3)
                    .hypercall(nr, 2 * M, 1, ENCRYPTED).outEax(PORT_VALUE)
                    .hlt();
            ram.write(CODE, code.toBytes());
            try (KvmVcpu vcpu = vm.createVcpu(0)) {
                vcpu.setSregs(vcpu.getSregs().withCs(Sregs.Segment.real(0, 0xb)));
                vcpu.setRegs(Regs.reset().withRip(CODE));
                List<Long> values = new ArrayList<>();
                List<ConversionOutcome> outcomes = new ArrayList<>();
                byte[] page = new byte[4096];
                for (int exits = 0; ; exits++) {
                    if (exits > 1000) fail("the guest did not finish; values " + values);
                    VcpuExit exit = vcpu.run();
                    if (exit instanceof VcpuExit.Hypercall h) {
                        ConversionOutcome o = engine.handle(ConversionRequest.fromMapGpaRange(h));
                        outcomes.add(o);
                        vcpu.completeHypercall(o.guestAnswer());
                    } else if (exit instanceof VcpuExit.Io io && io.isOut() && io.port() == PORT_VALUE) {
                        values.add(io.value());
                    } else if (exit instanceof VcpuExit.Io io && io.isOut() && io.port() == PORT_STEP) {
                        switch ((int) io.value()) {
                            case 1 -> assertEquals(PATTERN_A, Integer.toUnsignedLong(readInt(ram, DATA)), "host sees the guest's shared write");
                            case 2 -> {
                                MemoryException e = assertThrows(MemoryException.class, () -> ram.read(DATA, 4), "private page refused");
                                assertEquals(MemoryException.Step.HOST_ACCESS, e.step());
                                assertTrue(kvm.checkExtension(KvmCap.MEMORY_ATTRIBUTES) != 0);
                            }
                            case 3 -> assertArrayEquals(page, ram.read(DATA, 4096), "the shared side was discarded on to-private: zero");
                            default -> fail("unknown step " + io.value());
                        }
                    } else if (exit instanceof VcpuExit.Hlt) {
                        break;
                    } else if (!(exit instanceof VcpuExit.Interrupted)) {
                        fail("unexpected exit " + exit + " after values " + values);
                    }
                }
                // to-private ok; the fresh private side reads zero; to-shared ok; the discarded shared side reads zero;
                // converting unassigned space to private is refused with EINVAL.
                assertEquals(List.of(0L, 0L, 0L, 0L, (long) Errno.EINVAL), values);
                assertInstanceOf(ConversionOutcome.Done.class, outcomes.get(0));
                assertInstanceOf(ConversionOutcome.Refused.class, outcomes.get(2));
                assertEquals(0, ram.privateBytes());
            } finally {
                ram.close();
            }
        }
    }

    private static int readInt(GuestRam ram, long gpa) {
        byte[] b = ram.read(gpa, 4);
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }
}
