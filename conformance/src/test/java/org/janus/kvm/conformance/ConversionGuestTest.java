package org.janus.kvm.conformance;

import static org.janus.kvm.conformance.GuestRig.DATA_GPA;
import static org.janus.kvm.conformance.GuestRig.PORT_STEP;
import static org.janus.kvm.conformance.GuestRig.PORT_VALUE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.util.List;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/**
 * A guest on a software-protected VM converts its memory through KVM_HC_MAP_GPA_RANGE and checks the contents
 * (issue item 5; private_mem_conversions_test.c, private_mem_kvm_exits_test.c; reference §1.5, §1.6, §9). On the
 * software KVM the guest is a {@link GuestProgram}; on the real kernel it is real-mode x86 code built by
 * {@link RealModeCode}.
 */
class ConversionGuestTest extends KvmTargetTest {

    static final long ENCRYPTED = Hypercalls.MAP_GPA_RANGE_ENCRYPTED;
    static final long DECRYPTED = Hypercalls.MAP_GPA_RANGE_DECRYPTED;
    static final int PAGES = 4;
    static final long PATTERN_A = 0xa1a1a1a1L;
    static final long PATTERN_B = 0xb2b2b2b2L;
    /** -KVM_ENOSYS as the guest sees it in eax (a 32-bit hypercall truncates rax). */
    static final long ENOSYS_32 = -Hypercalls.KVM_ENOSYS & 0xffffffffL;

    private VmCaps swProtected() {
        VmCaps c = requireType(VmType.X86_SW_PROTECTED, x -> x.type() == VmType.X86_SW_PROTECTED && (x.legacy() || x.inPlace()),
                "no software-protected VM with private memory (VM type 1 not supported on this host, or neither mode)");
        assumeTrue(c.hasUserMemory2(), c + ": no KVM_CAP_USER_MEMORY2");
        assumeTrue(!c.inPlace() || c.initShared(), c + ": in-place mode without GUEST_MEMFD_FLAG_INIT_SHARED");
        return c;
    }

    /** Loads the guest: the program on the software KVM, the x86 code on a real kernel. */
    private void load(KvmVm vm, KvmVcpu vcpu, GuestProgram program, RealModeCode code) {
        if (vcpu instanceof SimVcpu sim) {
            sim.load(program);
            return;
        }
        assumeTrue(isX86(), "the real-kernel variant of this guest is x86 code");
        if (code.usesHypercall()) {
            // kvm-pvm runs KVM without hardware virtualization; a real-mode guest's vmmcall there ends in
            // KVM_EXIT_INTERNAL_ERROR, a triple fault or a KVM_RUN that never returns (seen on 6.18 kvm-pvm).
            assumeFalse(new File("/sys/module/kvm_pvm").exists(),
                    "the host's KVM is kvm-pvm, which cannot execute a real-mode guest's hypercall instruction");
        }
        GuestRig.loadRealModeCode(this, vm, vcpu, code.toBytes());
    }

    // ---- the conversion guest ----

    /** Reads a page, fails the guest unless every byte is the same, and returns its first four bytes. */
    private long uniformDword(GuestCpu cpu, long gpa) {
        byte[] b = cpu.read(gpa, (int) page);
        for (int i = 1; i < b.length; i++) {
            if (b[i] != b[0]) throw new AssertionError("guest: byte " + i + " of gpa 0x" + Long.toHexString(gpa) + " differs");
        }
        return (b[0] & 0xffL) * 0x01010101L;
    }

    /** Reads a page as {@link #uniformDword} does and fails the guest unless it holds {@code expected}. */
    private long expectDword(GuestCpu cpu, long gpa, long expected, String when) {
        long v = uniformDword(cpu, gpa);
        if (v != expected) {
            throw new AssertionError("guest: gpa 0x" + Long.toHexString(gpa) + " " + when + " holds 0x" + Long.toHexString(v)
                    + ", expected 0x" + Long.toHexString(expected));
        }
        return v;
    }

    /**
     * The guest checks what it reads itself (and reports it, so that the host can check the x86 variant the same
     * way): contents preserved across in-place conversions, zero after a legacy conversion with discard.
     */
    private GuestProgram conversionProgram(boolean inPlace) {
        long whilePrivate = inPlace ? PATTERN_A : 0;
        long afterShared = inPlace ? PATTERN_B : 0;
        return cpu -> {
            cpu.out(PORT_VALUE, 4, cpu.mapGpaRange(DATA_GPA, 1, ENCRYPTED));
            cpu.out(PORT_STEP, 4, 1);
            cpu.write(DATA_GPA, filled((int) (PAGES * page), 0xa1));
            cpu.out(PORT_STEP, 4, 2);
            cpu.out(PORT_VALUE, 4, cpu.mapGpaRange(DATA_GPA, 2, ENCRYPTED));
            cpu.out(PORT_VALUE, 4, cpu.mapGpaRange(DATA_GPA, 2, ENCRYPTED));
            cpu.out(PORT_VALUE, 4, expectDword(cpu, DATA_GPA, whilePrivate, "just converted to private"));
            cpu.write(DATA_GPA, filled((int) (2 * page), 0xb2));
            cpu.out(PORT_STEP, 4, 4);
            cpu.out(PORT_VALUE, 4, cpu.mapGpaRange(DATA_GPA, 2, DECRYPTED));
            cpu.out(PORT_VALUE, 4, expectDword(cpu, DATA_GPA, afterShared, "converted back to shared"));
            cpu.out(PORT_VALUE, 4, expectDword(cpu, DATA_GPA + page, afterShared, "converted back to shared"));
            cpu.out(PORT_VALUE, 4, expectDword(cpu, DATA_GPA + 2 * page, PATTERN_A, "never converted"));
            cpu.out(PORT_STEP, 4, 5);
        };
    }

    /** The same guest in real-mode x86: data segment 0x1000, so ds:0 is DATA_GPA. */
    private RealModeCode conversionCode() {
        int dwordsPerPage = (int) (page / 4);
        long nr = Hypercalls.KVM_HC_MAP_GPA_RANGE;
        return new RealModeCode()
                .dataSegments(DATA_GPA)
                .hypercall(nr, DATA_GPA, 1, ENCRYPTED).outEax(PORT_VALUE)
                .out(PORT_STEP, 1)
                .fill(0, PAGES * dwordsPerPage, PATTERN_A)
                .out(PORT_STEP, 2)
                .hypercall(nr, DATA_GPA, 2, ENCRYPTED).outEax(PORT_VALUE)
                .hypercall(nr, DATA_GPA, 2, ENCRYPTED).outEax(PORT_VALUE)
                .loadEax(0).outEax(PORT_VALUE)
                .fill(0, 2 * dwordsPerPage, PATTERN_B)
                .out(PORT_STEP, 4)
                .hypercall(nr, DATA_GPA, 2, DECRYPTED).outEax(PORT_VALUE)
                .loadEax(0).outEax(PORT_VALUE)
                .loadEax((int) page).outEax(PORT_VALUE)
                .loadEax((int) (2 * page)).outEax(PORT_VALUE)
                .out(PORT_STEP, 5)
                .hlt();
    }

    @Test
    void guestConvertsThroughMapGpaRange() {
        VmCaps c = swProtected();
        assumeTrue((c.exitHypercall() & (1L << Hypercalls.KVM_HC_MAP_GPA_RANGE)) != 0,
                c + ": KVM_CAP_EXIT_HYPERCALL lacks KVM_HC_MAP_GPA_RANGE");
        KvmVm vm = createVm(c.type());
        GuestRig rig = new GuestRig(this, vm, c, PAGES * page);
        KvmVcpu vcpu = createVcpu(vm, 0);
        load(vm, vcpu, conversionProgram(rig.inPlace), conversionCode());
        HostMapping host = rig.hostView;
        int[] hypercalls = {0};

        List<Long> values = GuestRig.runToEnd(vcpu, new GuestRig.Host() {
            @Override public long hypercall(VcpuExit.Hypercall h) {
                int n = ++hypercalls[0];
                assertEquals(Hypercalls.KVM_HC_MAP_GPA_RANGE, h.nr(), "hypercall number");
                assertEquals(DATA_GPA, h.arg(0), "MAP_GPA_RANGE a0 (gpa)");
                assertEquals(2, h.arg(1), "MAP_GPA_RANGE a1 (4 KiB pages)");
                assertEquals(n <= 2 ? ENCRYPTED : DECRYPTED, h.arg(2), "MAP_GPA_RANGE a2 (attributes) of hypercall " + n);
                if (n == 1) {
                    // Refused: the guest must see EINVAL and nothing may change.
                    for (int p = 0; p < PAGES; p++) assertFilled(0xa1, host.read(p * page, (int) page), "page " + p + " before any conversion");
                    return Errno.EINVAL;
                }
                boolean toPrivate = (h.arg(2) & ENCRYPTED) != 0;
                rig.convert(h.arg(0), h.arg(1) * GuestRig.MAP_GPA_PAGE, toPrivate);
                return 0;
            }

            @Override public void step(int step, List<Long> soFar) {
                switch (step) {
                    case 1 -> {
                        assertEquals(List.of(ENOSYS_32), soFar, "MAP_GPA_RANGE before KVM_CAP_EXIT_HYPERCALL is enabled");
                        assertEquals(0, hypercalls[0], "a hypercall exit before KVM_CAP_EXIT_HYPERCALL was enabled");
                        vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
                    }
                    case 2 -> {
                        for (int p = 0; p < PAGES; p++) assertFilled(0xa1, host.read(p * page, (int) page), "host: shared page " + p);
                    }
                    case 4 -> {
                        for (int p = 0; p < 2; p++) {
                            if (rig.inPlace) {
                                int q = p;
                                expectErrno(Errno.EFAULT, "host read of private page " + p, () -> host.read(q * page, 1));
                            } else {
                                assertFilled(0, host.read(p * page, (int) page), "host: discarded shared side of private page " + p);
                            }
                        }
                        for (int p = 2; p < PAGES; p++) assertFilled(0xa1, host.read(p * page, (int) page), "host: shared page " + p);
                    }
                    case 5 -> {
                        int expected = rig.inPlace ? 0xb2 : 0;
                        for (int p = 0; p < 2; p++) assertFilled(expected, host.read(p * page, (int) page), "host: page " + p + " back to shared");
                        for (int p = 2; p < PAGES; p++) assertFilled(0xa1, host.read(p * page, (int) page), "host: shared page " + p);
                    }
                    default -> fail("unknown step " + step);
                }
            }
        });

        long whilePrivate = rig.inPlace ? PATTERN_A : 0;
        long afterShared = rig.inPlace ? PATTERN_B : 0;
        assertEquals(GuestRig.hex(List.of(ENOSYS_32, (long) Errno.EINVAL, 0L, whilePrivate, 0L, afterShared, afterShared, PATTERN_A)),
                GuestRig.hex(values), (rig.inPlace ? "in-place: contents preserved" : "legacy: converted pages read zero")
                        + "; values the guest saw: hypercall results and first dwords");
        assertEquals(3, hypercalls[0], "hypercall exits");
    }

    @Test
    void guestMemoryAndPortIoReachTheHost() {
        // kvm-ioctls test_run_code: a guest writes memory and reports through OUT; the host sees both and answers.
        assumeTrue(isX86(), "the guest reports through port I/O, which arm64 does not have");
        KvmVm vm = createVm(VmType.DEFAULT);
        HostMemfd ram = createMemfd(2 * page);
        HostMapping host = map(ram, 0, 2 * page);
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, DATA_GPA, 2 * page, host.address()));
        KvmVcpu vcpu = createVcpu(vm, 0);
        GuestProgram program = cpu -> {
            cpu.write(DATA_GPA, filled((int) page, 0xa1));
            cpu.out(PORT_STEP, 4, 2);
            cpu.out(PORT_VALUE, 4, uniformDword(cpu, DATA_GPA + page));
        };
        RealModeCode code = new RealModeCode()
                .dataSegments(DATA_GPA)
                .fill(0, (int) (page / 4), PATTERN_A)
                .out(PORT_STEP, 2)
                .loadEax((int) page).outEax(PORT_VALUE)
                .hlt();
        load(vm, vcpu, program, code);
        List<Long> values = GuestRig.runToEnd(vcpu, new GuestRig.Host() {
            @Override public long hypercall(VcpuExit.Hypercall h) { return fail("unexpected " + h); }

            @Override public void step(int step, List<Long> soFar) {
                assertEquals(2, step);
                assertFilled(0xa1, host.read(0, (int) page), "host: the page the guest wrote");
                assertFilled(0, host.read(page, (int) page), "host: the page the guest did not write");
                host.write(page, pageOf(0xc3));
            }
        });
        assertEquals(GuestRig.hex(List.of(0xc3c3c3c3L)), GuestRig.hex(values), "the dword the host wrote, as the guest read it");
    }

    @Test
    void mapGpaRangeExitsOnlyOnceEnabledAndReturnsTheAnswer() {
        // Any x86 VM type: KVM forwards KVM_HC_MAP_GPA_RANGE once userspace enables the exit, whatever the memory.
        // On a real kernel this also proves the real-mode plumbing (code slot, I/O reports, hypercall) of the guests above.
        assumeTrue(isX86(), "KVM_HC_MAP_GPA_RANGE is an x86 hypercall");
        KvmVm vm = createVm(VmType.DEFAULT);
        long hc = Integer.toUnsignedLong(vm.checkExtension(KvmCap.EXIT_HYPERCALL));
        assumeTrue((hc & (1L << Hypercalls.KVM_HC_MAP_GPA_RANGE)) != 0, "KVM_CAP_EXIT_HYPERCALL=0x" + Long.toHexString(hc));
        HostMemfd ram = createMemfd(2 * page);
        HostMapping host = map(ram, 0, 2 * page);
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, DATA_GPA, 2 * page, host.address()));
        KvmVcpu vcpu = createVcpu(vm, 0);
        long nr = Hypercalls.KVM_HC_MAP_GPA_RANGE;
        GuestProgram program = cpu -> {
            cpu.out(PORT_VALUE, 4, cpu.mapGpaRange(DATA_GPA, 1, ENCRYPTED));
            cpu.out(PORT_STEP, 4, 1);
            cpu.out(PORT_VALUE, 4, cpu.mapGpaRange(DATA_GPA, 2, ENCRYPTED));
            cpu.out(PORT_VALUE, 4, cpu.mapGpaRange(DATA_GPA, 2, DECRYPTED));
            cpu.write(DATA_GPA, filled((int) (2 * page), 0xa1));
            cpu.out(PORT_STEP, 4, 2);
            cpu.out(PORT_VALUE, 4, uniformDword(cpu, DATA_GPA + page));
        };
        RealModeCode code = new RealModeCode()
                .dataSegments(DATA_GPA)
                .hypercall(nr, DATA_GPA, 1, ENCRYPTED).outEax(PORT_VALUE)
                .out(PORT_STEP, 1)
                .hypercall(nr, DATA_GPA, 2, ENCRYPTED).outEax(PORT_VALUE)
                .hypercall(nr, DATA_GPA, 2, DECRYPTED).outEax(PORT_VALUE)
                .fill(0, (int) (2 * page / 4), PATTERN_A)
                .out(PORT_STEP, 2)
                .loadEax((int) page).outEax(PORT_VALUE)
                .hlt();
        load(vm, vcpu, program, code);
        int[] hypercalls = {0};

        List<Long> values = GuestRig.runToEnd(vcpu, new GuestRig.Host() {
            @Override public long hypercall(VcpuExit.Hypercall h) {
                int n = ++hypercalls[0];
                assertEquals(nr, h.nr());
                assertEquals(List.of(DATA_GPA, 2L, n == 1 ? ENCRYPTED : DECRYPTED), List.of(h.arg(0), h.arg(1), h.arg(2)),
                        "MAP_GPA_RANGE a0..a2 of hypercall " + n);
                return n == 1 ? Errno.EINVAL : 0;
            }

            @Override public void step(int step, List<Long> soFar) {
                if (step == 1) {
                    assertEquals(GuestRig.hex(List.of(ENOSYS_32)), GuestRig.hex(soFar), "MAP_GPA_RANGE before the exit is enabled");
                    assertEquals(0, hypercalls[0], "a hypercall exit before KVM_CAP_EXIT_HYPERCALL was enabled");
                    vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << nr));
                } else {
                    assertEquals(2, step);
                    assertFilled(0xa1, host.read(0, (int) (2 * page)), "host: what the guest wrote");
                    host.write(page, pageOf(0xc3));
                }
            }
        });
        assertEquals(GuestRig.hex(List.of(ENOSYS_32, (long) Errno.EINVAL, 0L, 0xc3c3c3c3L)), GuestRig.hex(values),
                "hypercall results and the dword the host wrote");
        assertEquals(2, hypercalls[0], "hypercall exits");
    }

    @Test
    void privateAccessWithoutGuestMemfdIsAMemoryFault() {
        // private_mem_kvm_exits_test.c test_private_access_memslot_not_private (legacy mode).
        VmCaps c = requireType(VmType.X86_SW_PROTECTED, x -> x.type() == VmType.X86_SW_PROTECTED && x.legacy(),
                "no software-protected VM in the legacy mode");
        assumeTrue(c.hasUserMemory2(), c + ": no KVM_CAP_USER_MEMORY2");
        KvmVm vm = createVm(c.type());
        HostMemfd memfd = createMemfd(page);
        HostMapping view = map(memfd, 0, page);
        vm.setUserMemoryRegion2(UserMemoryRegion2.plain(1, DATA_GPA, page, view.address()));
        vm.setMemoryAttributes(MemoryAttributes.of(DATA_GPA, page, MemoryAttribute.PRIVATE));
        KvmVcpu vcpu = createVcpu(vm, 0);
        load(vm, vcpu, cpu -> cpu.readLong(DATA_GPA), new RealModeCode().dataSegments(DATA_GPA).loadEax(0).hlt());

        VcpuExit exit = vcpu.run();
        VcpuExit.MemoryFault fault = assertInstanceOf(VcpuExit.MemoryFault.class, exit, () -> "exit " + exit + GuestRig.guestFailure(vcpu));
        assertEquals(ExitReason.MEMORY_EXIT_FLAG_PRIVATE, fault.flags(), "memory_fault.flags");
        assertEquals(DATA_GPA, fault.gpa(), "memory_fault.gpa");
        assertEquals(page, fault.size(), "memory_fault.size");
        assertEquals(Errno.EFAULT, fault.errno(), "KVM_RUN errno with KVM_EXIT_MEMORY_FAULT");
        assertTrue(fault.isPrivate());
    }
}
