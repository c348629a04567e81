package org.janus.machine.internal;

import java.util.List;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.jetbrains.lincheck.datastructures.BooleanGen;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Test;

/**
 * The machine's conversion door under concurrent vCPUs: {@link VmConversions#handle} over a {@link ConversionEngine}
 * whose memory map has two RAM regions and an MMIO hole between them, so that requests span regions (converted in two
 * phases under the door's lock) and the hole (skipped to shared, refused to private). Lincheck runs concurrent
 * MAP_GPA_RANGE requests and memory faults over overlapping page ranges with single-page reads, and checks each
 * scenario against {@link Model}, a page-level sequential specification: the door must be linearizable, each
 * request all-or-nothing with the answer the model gives (0 or EINVAL).
 *
 * <p>Pages (4 KiB each): 0-3 RAM {@code low}, 4 the MMIO hole, 5-8 RAM {@code high}. One VM per backend serves
 * every scenario of a test ({@link #current}); each scenario starts by making all of it shared through the door.
 */
@Param(name = "page", gen = IntGen.class, conf = "0:8")
@Param(name = "count", gen = IntGen.class, conf = "1:5")
@Param(name = "private", gen = BooleanGen.class)
public class VmConversionsLincheckTest {
    static final long P = 4096;
    static final int PAGES = 9;
    static final int HOLE = 4;

    /** A door over [0, 9 pages) on a VM of its own. */
    record Door(VmConversions door, GuestRam low, GuestRam high) {}

    static Door door(SimProfile profile, MemoryBackend backend) {
        SimKvm kvm = SimKvm.create(profile, SimHardware.X86);
        KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);   // the JVM's: one VM for every scenario
        GuestRam low = backend.create(kvm, vm, new RamRegion("low", 0, 0, 4 * P), PageState.SHARED);
        GuestRam high = backend.create(kvm, vm, new RamRegion("high", 1, 5 * P, 4 * P), PageState.SHARED);
        GuestMemoryMap map = new GuestMemoryMap(List.of(low, high), List.of(new MmioHole("dev", 4 * P, P)));
        return new Door(new VmConversions(new ConversionEngine(map)), low, high);
    }

    private static final Door IN_PLACE = door(SimProfile.INPLACE, new GuestMemfdBackend());
    private static final Door LEGACY = door(SimProfile.K7_3, new LegacyBackend(true));
    /** The VM the scenarios of the running test use. */
    private static volatile Door current = IN_PLACE;

    Door fixture() { return current; }

    public VmConversionsLincheckTest() {
        long answer = fixture().door().handle(ConversionRequest.fromMapGpaRange(SimMachine.mapGpaRange(0, PAGES, 0))).guestAnswer();
        if (answer != 0) throw new IllegalStateException("resetting the fixture to shared was answered " + answer);
    }

    static int clip(int page, int count) { return Math.min(count, PAGES - page); }

    /** A vCPU's KVM_HC_MAP_GPA_RANGE over [page, page+count): the guest's answer. */
    @Operation
    public long mapGpaRange(@Param(name = "page") int page, @Param(name = "count") int count, @Param(name = "private") boolean priv) {
        return fixture().door().handle(ConversionRequest.fromMapGpaRange(SimMachine.mapGpaRange(page * P, clip(page, count),
                priv ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : 0))).guestAnswer();
    }

    /** A vCPU's memory fault on one page: the answer the exit would get. */
    @Operation
    public long memoryFault(@Param(name = "page") int page, @Param(name = "private") boolean priv) {
        return fixture().door().handle(ConversionRequest.fromMemoryFault(SimMachine.fault(page * P, P, priv ? 8 : 0))).guestAnswer();
    }

    @Operation
    public String state(@Param(name = "page") int page) {
        if (page == HOLE) return "mmio";
        GuestRam ram = page < HOLE ? fixture().low() : fixture().high();
        return ram.stateAt(page * P) == PageState.PRIVATE ? "private" : "shared";
    }

    /** The sequential specification: nine pages, the hole never private; a request is all or nothing. */
    public static class Model {
        private final boolean[] priv = new boolean[PAGES];

        public long mapGpaRange(int page, int count, boolean p) { return convert(page, clip(page, count), p); }

        public long memoryFault(int page, boolean p) { return convert(page, 1, p); }

        private long convert(int page, int count, boolean p) {
            if (p && page <= HOLE && HOLE < page + count) return 22;   // EINVAL: MMIO cannot become private
            for (int i = page; i < page + count; i++) if (i != HOLE) priv[i] = p;
            return 0;
        }

        public String state(int page) { return page == HOLE ? "mmio" : priv[page] ? "private" : "shared"; }
    }

    /** In place: one guest_memfd per region, attributes changed in place. */
    @Test
    void stressInPlace() {
        current = IN_PLACE;
        new StressOptions().sequentialSpecification(Model.class).threads(3).actorsPerThread(3).actorsBefore(1).actorsAfter(1)
                .iterations(10).invocationsPerIteration(200).check(VmConversionsLincheckTest.class);
    }

    @Test
    void modelCheckingInPlace() {
        current = IN_PLACE;
        new ModelCheckingOptions().sequentialSpecification(Model.class).threads(2).actorsPerThread(3).actorsBefore(1)
                .actorsAfter(1).iterations(5).invocationsPerIteration(100).check(VmConversionsLincheckTest.class);
    }

    /** Legacy: VM-wide attributes, the face a page left punched at commit. */
    @Test
    void stressLegacy() {
        current = LEGACY;
        new StressOptions().sequentialSpecification(Model.class).threads(3).actorsPerThread(3).actorsBefore(1).actorsAfter(1)
                .iterations(10).invocationsPerIteration(200).check(VmConversionsLincheckTest.class);
    }
}
