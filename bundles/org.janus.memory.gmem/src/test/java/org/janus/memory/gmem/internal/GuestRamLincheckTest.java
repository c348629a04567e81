package org.janus.memory.gmem.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.janus.memory.api.RamRegion;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Test;

/**
 * The page-state tracker under concurrency. {@link PageStateMap} is documented as not thread-safe; its thread-safe
 * owner is the {@link GuestRam} (here {@code BackedGuestRam} through the in-place backend on the software KVM, whose
 * conversions change real guest_memfd attributes). Lincheck runs scenarios of concurrent {@code convert},
 * {@code stateAt}, {@code isUniform}, {@code runs} and {@code privateBytes} on the first eight pages and checks every
 * outcome against {@link Model}, a sequential page-by-page model: the RAM must be linearizable.
 *
 * <p>One RAM serves every scenario (a VM per scenario would cost thousands of memfds): each scenario starts by
 * converting it back to all shared, which is what a new one would be.
 */
@Param(name = "page", gen = IntGen.class, conf = "0:7")
@Param(name = "count", gen = IntGen.class, conf = "1:4")
public class GuestRamLincheckTest {
    static final long P = 4096;
    static final int PAGES = 8;
    private static final GuestRam RAM = ram();

    private static GuestRam ram() {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);   // the JVM's: one VM for every scenario
        return new GuestMemfdBackend().create(kvm, vm, new RamRegion("lincheck", 0, 0, 2L << 20), PageState.SHARED);
    }

    public GuestRamLincheckTest() {
        RAM.convert(0, 2L << 20, PageState.SHARED);
    }

    /** Pages [page, page+count) clipped to the eight pages, as a range. */
    static GpaRange range(int page, int count) {
        return GpaRange.of(page * P, Math.min(count, PAGES - page) * P);
    }

    @Operation
    public void convertPrivate(@Param(name = "page") int page, @Param(name = "count") int count) {
        GpaRange r = range(page, count);
        RAM.convert(r.start(), r.size(), PageState.PRIVATE);
    }

    @Operation
    public void convertShared(@Param(name = "page") int page, @Param(name = "count") int count) {
        GpaRange r = range(page, count);
        RAM.convert(r.start(), r.size(), PageState.SHARED);
    }

    @Operation
    public PageState stateAt(@Param(name = "page") int page) { return RAM.stateAt(page * P); }

    @Operation
    public boolean isUniformPrivate(@Param(name = "page") int page, @Param(name = "count") int count) {
        GpaRange r = range(page, count);
        return RAM.isUniform(r.start(), r.size(), PageState.PRIVATE);
    }

    @Operation
    public List<PageStateMap.Run> runs(@Param(name = "page") int page, @Param(name = "count") int count) {
        GpaRange r = range(page, count);
        return RAM.runs(r.start(), r.size());
    }

    @Operation
    public long privateBytes() { return RAM.privateBytes(); }

    /** The sequential specification: eight pages, each private or shared, changed and read one at a time. */
    public static class Model {
        private final boolean[] priv = new boolean[PAGES];

        public void convertPrivate(int page, int count) { set(page, count, true); }

        public void convertShared(int page, int count) { set(page, count, false); }

        private void set(int page, int count, boolean value) {
            GpaRange r = range(page, count);
            Arrays.fill(priv, (int) (r.start() / P), (int) (r.end() / P), value);
        }

        public PageState stateAt(int page) { return priv[page] ? PageState.PRIVATE : PageState.SHARED; }

        public boolean isUniformPrivate(int page, int count) {
            GpaRange r = range(page, count);
            for (long p = r.start() / P; p < r.end() / P; p++) if (!priv[(int) p]) return false;
            return true;
        }

        public List<PageStateMap.Run> runs(int page, int count) {
            GpaRange r = range(page, count);
            List<PageStateMap.Run> out = new ArrayList<>();
            int from = (int) (r.start() / P);
            for (int p = from + 1; p <= r.end() / P; p++) {
                if (p == r.end() / P || priv[p] != priv[from]) {
                    out.add(new PageStateMap.Run(new GpaRange(from * P, p * P), stateAt(from)));
                    from = p;
                }
            }
            return out;
        }

        public long privateBytes() {
            long n = 0;
            for (boolean p : priv) if (p) n += P;
            return n;
        }
    }

    @Test
    void stress() {
        new StressOptions().sequentialSpecification(Model.class).threads(3).actorsPerThread(3).actorsBefore(2).actorsAfter(1)
                .iterations(10).invocationsPerIteration(200).check(GuestRamLincheckTest.class);
    }

    @Test
    void modelChecking() {
        new ModelCheckingOptions().sequentialSpecification(Model.class).threads(2).actorsPerThread(3).actorsBefore(1).actorsAfter(1)
                .iterations(5).invocationsPerIteration(100).check(GuestRamLincheckTest.class);
    }
}
