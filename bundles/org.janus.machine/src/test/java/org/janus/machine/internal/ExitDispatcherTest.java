package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.GuestPorts;
import org.janus.machine.RunSummary.ConversionCount;
import org.janus.machine.VmState;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamRegion;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.platform.api.ConfidentialPlatform.ExitAction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The exit dispatcher fed hand-made exits. Conversions reach a real conversion engine over real RAM of a
 * software-protected VM on the in-place profile: two adjacent regions [0, 8M) and [8M, 12M), and an MMIO hole at
 * [12M, 13M). The platform's part is a function whose answer each test chooses.
 */
class ExitDispatcherTest {
    static final long M = 1 << 20;
    static final long PRIVATE = ExitReason.MEMORY_EXIT_FLAG_PRIVATE;

    private SimKvm kvm;
    private KvmVm vm;
    private final List<GuestRam> rams = new ArrayList<>();
    private KvmVcpu vcpu;
    private VmConversions conversions;
    private final Console console = new Console();
    private final ExitCounters counters = new ExitCounters();
    private final List<VcpuExit> toPlatform = new ArrayList<>();
    private ExitAction platformAnswer = ExitAction.UNHANDLED;
    private ExitDispatcher dispatcher;

    @BeforeEach
    void vm() {
        kvm = SimKvm.create(SimProfile.INPLACE, org.janus.kvm.sim.SimHardware.X86);
        vm = kvm.createVm(VmType.X86_SW_PROTECTED);
        GuestMemfdBackend backend = new GuestMemfdBackend();
        rams.add(backend.create(kvm, vm, new RamRegion("low", 0, 0, 8 * M), PageState.SHARED));
        rams.add(backend.create(kvm, vm, new RamRegion("low2", 1, 8 * M, 4 * M), PageState.SHARED));
        conversions = new VmConversions(new ConversionEngine(new GuestMemoryMap(rams, List.of(new MmioHole("dev", 12 * M, M)))));
        vcpu = vm.createVcpu(0);
        dispatcher = new ExitDispatcher(conversions, console, counters, (v, exit) -> {
            toPlatform.add(exit);
            return platformAnswer;
        });
    }

    @AfterEach
    void close() {
        vcpu.close();
        rams.forEach(GuestRam::close);
        vm.close();
    }

    private ExitDecision dispatch(VcpuExit exit) { return dispatcher.dispatch(vcpu, exit); }

    private static VcpuExit.Hypercall mapGpaRange(long gpa, long pages, long attrs) {
        return new VcpuExit.Hypercall(Hypercalls.KVM_HC_MAP_GPA_RANGE, new long[] {gpa, pages, attrs, 0, 0, 0}, Hypercalls.EXIT_HYPERCALL_LONG_MODE);
    }

    private static VmEnd end(ExitDecision d) { return assertInstanceOf(ExitDecision.End.class, d).end(); }

    @Test
    void aMemoryFaultConvertsThePageAndTheVcpuRunsAgain() {
        assertEquals(ExitDecision.RESUME, dispatch(new VcpuExit.MemoryFault(PRIVATE, 0x5000, 4096, Errno.EFAULT)));
        assertEquals(PageState.PRIVATE, rams.get(0).stateAt(0x5000));
        assertTrue(kvm.isPrivate(vm, 0x5000), "the kernel's attribute changed too");
        assertEquals(PageState.SHARED, rams.get(0).stateAt(0x6000));
        assertEquals(ExitDecision.RESUME, dispatch(new VcpuExit.MemoryFault(0, 0x5000, 4096, Errno.EFAULT)));
        assertEquals(PageState.SHARED, rams.get(0).stateAt(0x5000));
        assertEquals(List.of(new ConversionCount("memory-fault", "to-private", 1, 1, 0, 4096),
                new ConversionCount("memory-fault", "to-shared", 1, 1, 0, 4096)), conversions.counters().snapshot());
        assertEquals(2, counters.get(0, "memory-fault"));
    }

    @Test
    void aMemoryFaultThatCannotBeConvertedStopsOrFailsTheVm() {
        VmEnd refused = end(dispatch(new VcpuExit.MemoryFault(PRIVATE, 12 * M, 4096, Errno.EFAULT)));
        assertEquals(VmEnd.Kind.REFUSED, refused.kind());
        assertInstanceOf(VmState.Stopped.class, refused.state());
        assertTrue(refused.reason().contains("MMIO (dev)") && refused.reason().contains("[0xc00000, 0xc01000) as private"), refused.reason());

        VmEnd unknownFlags = end(dispatch(new VcpuExit.MemoryFault(PRIVATE | 1, 0, 4096, Errno.EFAULT)));
        assertEquals(VmEnd.Kind.FAILED, unknownFlags.kind());
        assertTrue(unknownFlags.reason().contains("unknown flags 0x9"), unknownFlags.reason());

        VmEnd poisoned = end(dispatch(new VcpuExit.MemoryFault(PRIVATE, 0, 4096, Errno.EHWPOISON)));
        assertTrue(poisoned.reason().contains("EHWPOISON"), poisoned.reason());
        assertEquals(PageState.SHARED, rams.get(0).stateAt(0), "nothing converted");
    }

    @Test
    void mapGpaRangeIsAnsweredWithTheEnginesOutcome() {
        long enc2M = Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M | Hypercalls.MAP_GPA_RANGE_ENCRYPTED;
        // 6M..10M spans both regions: converted as one request.
        assertEquals(new ExitDecision.Resume(new ExitDecision.Answer.HypercallRet(0)), dispatch(mapGpaRange(6 * M, 1024, enc2M)));
        assertTrue(rams.get(0).isUniform(6 * M, 2 * M, PageState.PRIVATE) && rams.get(1).isUniform(8 * M, 2 * M, PageState.PRIVATE));
        // Not aligned to its 2M page size, reserved bits, private MMIO: EINVAL, nothing changes.
        assertEquals(new ExitDecision.Resume(new ExitDecision.Answer.HypercallRet(Errno.EINVAL)), dispatch(mapGpaRange(M, 512, enc2M)));
        assertEquals(new ExitDecision.Resume(new ExitDecision.Answer.HypercallRet(Errno.EINVAL)), dispatch(mapGpaRange(0, 1, 1L << 5)));
        assertEquals(new ExitDecision.Resume(new ExitDecision.Answer.HypercallRet(Errno.EINVAL)),
                dispatch(mapGpaRange(12 * M, 1, Hypercalls.MAP_GPA_RANGE_ENCRYPTED)));
        assertEquals(PageState.SHARED, rams.get(0).stateAt(M));
        // To shared across RAM and the MMIO hole: the hole is skipped.
        assertEquals(new ExitDecision.Resume(new ExitDecision.Answer.HypercallRet(0)), dispatch(mapGpaRange(10 * M, 768, 0)));
        List<ConversionCount> counts = conversions.counters().snapshot();
        assertEquals(List.of(new ConversionCount("map-gpa-range", "malformed", 2, 0, 2, 0),
                new ConversionCount("map-gpa-range", "to-private", 2, 1, 1, 4 * M),
                new ConversionCount("map-gpa-range", "to-shared", 1, 1, 0, 2 * M)), counts);
    }

    @Test
    void aConversionThatCannotBeUndoneFailsTheVmNamingTheRange() {
        // The second region's attribute ioctl fails, and so does putting the first region back.
        kvm.injectFault("KVM_SET_MEMORY_ATTRIBUTES2", Errno.ENOMEM, 1);
        kvm.injectFault("KVM_SET_MEMORY_ATTRIBUTES2", Errno.ENOMEM, 2);
        VmEnd e = end(dispatch(mapGpaRange(6 * M, 1024, Hypercalls.MAP_GPA_RANGE_ENCRYPTED)));
        assertEquals(VmEnd.Kind.FAILED, e.kind());
        assertTrue(e.reason().contains("[0x600000, 0x800000)") && e.reason().contains("ENOMEM"), e.reason());
    }

    @Test
    void portIoConsoleExitPortAndReads() {
        for (byte b : "hi\n".getBytes()) {
            assertEquals(ExitDecision.RESUME, dispatch(new VcpuExit.Io(ExitReason.IO_OUT, 1, GuestPorts.CONSOLE, 1, new byte[] {b})));
        }
        assertEquals(ExitDecision.RESUME, dispatch(new VcpuExit.Io(ExitReason.IO_OUT, 1, 0x80, 1, new byte[] {7})));
        assertEquals("hi\n", console.text());
        assertEquals(new ExitDecision.Resume(new ExitDecision.Answer.IoIn(new byte[] {-1, -1, -1, -1})),
                dispatch(new VcpuExit.Io(ExitReason.IO_IN, 2, 0x3fd, 2, new byte[4])));
        VmEnd exit = end(dispatch(new VcpuExit.Io(ExitReason.IO_OUT, 4, GuestPorts.EXIT, 1, new byte[] {3, 0, 0, 0})));
        assertEquals(3, exit.exitCode().getAsInt());
        assertTrue(!exit.normal() && VmEnd.exitCode(0, "").normal());
        assertEquals(5, counters.get(0, "io-out"), "3 console bytes, port 0x80, the exit port");
        assertEquals(1, counters.get(0, "io-in"));
    }

    @Test
    void mmioReadsAllOnesAndWritesAreDropped() {
        ExitDecision read = dispatch(new VcpuExit.Mmio(12 * M, new byte[4], 4, false));
        assertArrayEquals(new byte[] {-1, -1, -1, -1},
                ((ExitDecision.Answer.MmioRead) ((ExitDecision.Resume) read).answer()).data());
        assertEquals(ExitDecision.RESUME, dispatch(new VcpuExit.Mmio(12 * M, new byte[] {1, 2}, 2, true)));
        assertEquals(1, counters.get(0, "mmio-read"));
        assertEquals(1, counters.get(0, "mmio-write"));
    }

    @Test
    void haltsShutdownsAndSystemEvents() {
        assertInstanceOf(ExitDecision.Halted.class, dispatch(new VcpuExit.Hlt()));
        assertInstanceOf(ExitDecision.CheckMailbox.class, dispatch(new VcpuExit.Interrupted()));
        VmEnd triple = end(dispatch(new VcpuExit.Shutdown()));
        assertEquals(VmEnd.Kind.TRIPLE_FAULT, triple.kind());
        assertTrue(!triple.normal() && triple.state() instanceof VmState.Stopped);
        VmEnd off = end(dispatch(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[0])));
        assertTrue(off.normal() && off.state() instanceof VmState.Stopped, off.toString());
        assertEquals(VmEnd.Kind.RESET, end(dispatch(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_RESET, new long[0]))).kind());
        VmEnd crash = end(dispatch(new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_CRASH, new long[0])));
        assertInstanceOf(VmState.Failed.class, crash.state());
        assertTrue(toPlatform.isEmpty(), "the machine handles these itself");
    }

    @Test
    void otherExitsGoToThePlatform() {
        VcpuExit sevTerm = new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SEV_TERM, new long[] {0x1000});
        platformAnswer = ExitAction.GUEST_TERMINATED;
        VmEnd terminated = end(dispatch(sevTerm));
        assertEquals(VmEnd.Kind.TERMINATED, terminated.kind());
        platformAnswer = ExitAction.RESUME;
        assertEquals(ExitDecision.RESUME, dispatch(new VcpuExit.Unsupported(99)));
        platformAnswer = ExitAction.UNHANDLED;
        VmEnd unhandled = end(dispatch(new VcpuExit.InternalError(ExitReason.INTERNAL_ERROR_EMULATION, new long[0])));
        assertEquals(VmEnd.Kind.FAILED, unhandled.kind());
        assertTrue(unhandled.reason().contains("exit not handled: InternalError"), unhandled.reason());
        assertEquals(List.of(sevTerm, new VcpuExit.Unsupported(99), new VcpuExit.InternalError(ExitReason.INTERNAL_ERROR_EMULATION, new long[0])),
                toPlatform);
        assertEquals(1, counters.get(0, "internal-error"));
    }
}
