package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.junit.jupiter.api.Test;

/**
 * Guest conversion requests as outside input: whatever a guest puts in a KVM_HC_MAP_GPA_RANGE hypercall or the
 * kernel in a memory-fault exit is decoded by {@link ConversionRequest} and handled by a {@link ConversionEngine}
 * through the VM's door ({@link VmConversions}) on two small sim VMs, one in place and one legacy. Each input is a
 * sequence of requests; after each one the engines' page states must equal a page-level model of what the request
 * means, the guest's answer must be 0 or EINVAL as the model says, and decoding must agree with an independent
 * reading of the ABI (reserved bits, page-size codes, alignment, overflow). Nothing but an outcome may come back.
 *
 * <p>Layout of each VM: RAM {@code low} [0, 1 MiB), an MMIO hole {@code dev} [1 MiB, 1 MiB + 64 KiB), RAM
 * {@code high} [2 MiB, 3 MiB), the rest unassigned.
 */
class ConversionFuzzTest {
    static final long P = 4096;
    static final long M = 1 << 20;
    /** Bytes one request takes from the input: a kind byte and four 64-bit words. */
    static final int OP_BYTES = 1 + 4 * 8;
    static final int MAX_OPS = 64;
    static final long MAX_NANOS = 5_000_000_000L;

    private static final List<Vm> VMS = List.of(
            vm(SimProfile.INPLACE, new GuestMemfdBackend()), vm(SimProfile.K7_3, new LegacyBackend(true)));

    /** One VM: its RAM, the engine over it and the door requests go through. */
    record Vm(String name, List<GuestRam> rams, VmConversions door) {}

    private static Vm vm(SimProfile profile, MemoryBackend backend) {
        SimKvm kvm = SimKvm.create(profile, SimHardware.X86);
        KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);   // lives as long as the JVM: the fuzz target's fixture
        GuestRam low = backend.create(kvm, vm, new RamRegion("low", 0, 0, M), PageState.SHARED);
        GuestRam high = backend.create(kvm, vm, new RamRegion("high", 1, 2 * M, M), PageState.SHARED);
        GuestMemoryMap map = new GuestMemoryMap(List.of(low, high), List.of(new MmioHole("dev", M, 64 << 10)));
        return new Vm(profile.id() + "/" + backend.id(), List.of(low, high), new VmConversions(new ConversionEngine(map)));
    }

    @FuzzTest
    void requests(byte[] input) {
        long start = System.nanoTime();
        ByteBuffer in = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
        for (Vm vm : VMS) run(vm, in.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        long took = System.nanoTime() - start;
        assertTrue(took < MAX_NANOS, "the requests took " + took / 1_000_000 + " ms");
    }

    private static void run(Vm vm, ByteBuffer in) {
        boolean[] model = pages(vm);
        for (int op = 0; op < MAX_OPS && in.remaining() >= OP_BYTES; op++) {
            int kind = in.get() & 0xff;
            long w0 = in.getLong(), w1 = in.getLong(), w2 = in.getLong(), w3 = in.getLong();
            // Bit 2: words near the layout (most raw words are far outside it); else the words as they are.
            if ((kind & 4) != 0) {
                w0 = (w0 & 0x3ff) * P;
                w1 = w1 & 0x3ff;
                w2 = w2 & 0x1f;
            }
            ConversionRequest request;
            Expected decoded;
            if ((kind & 1) == 0) {
                long nr = (kind & 2) != 0 ? w3 : Hypercalls.KVM_HC_MAP_GPA_RANGE;
                request = ConversionRequest.fromMapGpaRange(new VcpuExit.Hypercall(nr, new long[] {w0, w1, w2, 0, 0, 0}, 0));
                decoded = expectMapGpaRange(nr, w0, w1, w2);
            } else {
                long flags = (kind & 2) != 0 ? w2 : (w2 & ExitReason.MEMORY_EXIT_FLAG_PRIVATE);
                long size = (kind & 4) != 0 ? w1 * P : w1;
                request = ConversionRequest.fromMemoryFault(new VcpuExit.MemoryFault(flags, w0, size, 0));
                decoded = expectFault(flags, w0, size);
            }
            String what = vm.name() + ", request " + op + " " + request;
            checkDecoding(request, decoded, what);

            ConversionOutcome outcome = vm.door().handle(request);
            if (request instanceof ConversionRequest.Convert c && convertible(c)) {
                ConversionOutcome.Done done = assertInstanceOf(ConversionOutcome.Done.class, outcome, what);
                assertEquals(ramParts(c.range()), done.converted(), what);
                assertEquals(0, done.guestAnswer());
                for (long gpa : List.of(0L, 2 * M)) {
                    long from = Math.max(c.range().start(), gpa), to = Math.min(c.range().end(), gpa + M);
                    for (long a = from; a < to; a += P) model[index(a)] = c.target() == PageState.PRIVATE;
                }
            } else {
                ConversionOutcome.Refused refused = assertInstanceOf(ConversionOutcome.Refused.class, outcome, what);
                assertEquals(Errno.EINVAL, refused.errno(), what);
                assertEquals(Errno.EINVAL, refused.guestAnswer());
                assertTrue(refused.reason() != null && !refused.reason().isBlank() && refused.reason().lines().count() == 1,
                        what + ": one line saying why: " + refused.reason());
            }
            assertModel(vm, model, what);
        }
    }

    /** What decoding must give: a range and target, or invalid. */
    record Expected(GpaRange range, PageState target) {
        static final Expected INVALID = new Expected(null, null);
    }

    private static Expected expectMapGpaRange(long nr, long gpa, long pages, long attrs) {
        if (nr != Hypercalls.KVM_HC_MAP_GPA_RANGE || (attrs >>> 5) != 0) return Expected.INVALID;
        long code = attrs & 0xf;
        if (code > 2) return Expected.INVALID;
        long align = code == 0 ? P : code == 1 ? 2 * M : 1L << 30;
        if (pages <= 0 || Math.multiplyHigh(pages, P) != 0 || pages * P < 0) return Expected.INVALID;
        return range(gpa, pages * P, align, (attrs & 0x10) != 0 ? PageState.PRIVATE : PageState.SHARED);
    }

    private static Expected expectFault(long flags, long gpa, long size) {
        if ((flags & ~8L) != 0) return Expected.INVALID;
        return range(gpa, size, P, (flags & 8) != 0 ? PageState.PRIVATE : PageState.SHARED);
    }

    private static Expected range(long gpa, long size, long align, PageState target) {
        if (size <= 0 || gpa < 0 || Long.MAX_VALUE - gpa < size) return Expected.INVALID;
        if (gpa % align != 0 || size % align != 0) return Expected.INVALID;
        return new Expected(new GpaRange(gpa, gpa + size), target);
    }

    private static void checkDecoding(ConversionRequest request, Expected expected, String what) {
        if (expected == Expected.INVALID) {
            ConversionRequest.Invalid invalid = assertInstanceOf(ConversionRequest.Invalid.class, request, what);
            assertTrue(invalid.reason() != null && !invalid.reason().isBlank() && invalid.reason().lines().count() == 1,
                    what + ": one line saying why");
        } else {
            ConversionRequest.Convert c = assertInstanceOf(ConversionRequest.Convert.class, request, what);
            assertEquals(expected.range(), c.range(), what);
            assertEquals(expected.target(), c.target(), what);
        }
    }

    /** To shared anything goes (holes and unassigned space are skipped); to private, only RAM. */
    private static boolean convertible(ConversionRequest.Convert c) {
        if (c.target() == PageState.SHARED) return true;
        long covered = 0;
        for (GpaRange part : ramParts(c.range())) covered += part.size();
        return covered == c.range().size();
    }

    private static List<GpaRange> ramParts(GpaRange r) {
        List<GpaRange> parts = new ArrayList<>();
        for (long gpa : List.of(0L, 2 * M)) {
            long from = Math.max(r.start(), gpa), to = Math.min(r.end(), gpa + M);
            if (from < to) parts.add(new GpaRange(from, to));
        }
        return parts;
    }

    private static int index(long gpa) { return (int) (gpa < M ? gpa / P : 256 + (gpa - 2 * M) / P); }

    /** The page states as the VM's RAM has them now (the fixture lives across inputs). */
    private static boolean[] pages(Vm vm) {
        boolean[] model = new boolean[512];
        for (GuestRam ram : vm.rams()) {
            for (PageStateMap.Run run : ram.runs(ram.region().gpa(), ram.region().size()))
                for (long a = run.range().start(); a < run.range().end(); a += P) model[index(a)] = run.state() == PageState.PRIVATE;
        }
        return model;
    }

    private static void assertModel(Vm vm, boolean[] model, String what) {
        boolean[] actual = pages(vm);
        for (int i = 0; i < model.length; i++) {
            if (model[i] != actual[i]) {
                long gpa = i < 256 ? i * P : 2 * M + (i - 256) * P;
                throw new AssertionError(what + ": the page at 0x" + Long.toHexString(gpa) + " is "
                        + (actual[i] ? "private" : "shared") + ", the model says " + (model[i] ? "private" : "shared"));
            }
        }
        long privatePages = 0;
        for (boolean p : model) if (p) privatePages++;
        assertEquals(privatePages * P, vm.rams().get(0).privateBytes() + vm.rams().get(1).privateBytes(), what);
        for (GuestRam ram : vm.rams()) assertFalse(ram.isBroken(), what + ": " + ram.region().name() + " broke");
    }

    /** The model itself: a private range across the hole is refused and leaves the pages as they were. */
    @Test
    void aPrivateRangeOverTheHoleChangesNothing() {
        ByteBuffer b = ByteBuffer.allocate(2 * OP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 4).putLong(0).putLong(512).putLong(Hypercalls.MAP_GPA_RANGE_ENCRYPTED).putLong(0);   // [0, 2M) private
        b.put((byte) 4).putLong(0).putLong(256).putLong(Hypercalls.MAP_GPA_RANGE_ENCRYPTED).putLong(0);   // [0, 1M) private
        requests(b.array());
        for (Vm vm : VMS) assertTrue(vm.rams().get(0).isUniform(0, M, PageState.PRIVATE), vm.name());
        ByteBuffer back = ByteBuffer.allocate(OP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        back.put((byte) 0).putLong(0).putLong(3 * 256).putLong(0).putLong(0);                            // [0, 3M) shared
        requests(back.array());
        for (Vm vm : VMS) assertEquals(0, vm.rams().get(0).privateBytes() + vm.rams().get(1).privateBytes(), vm.name());
    }
}
