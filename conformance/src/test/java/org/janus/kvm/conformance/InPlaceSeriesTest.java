package org.janus.kvm.conformance;

import static org.janus.kvm.conformance.GuestRig.DATA_GPA;
import static org.janus.kvm.conformance.GuestRig.PORT_STEP;
import static org.janus.kvm.conformance.GuestRig.PORT_VALUE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimVcpu;
import org.junit.jupiter.api.Test;

/**
 * What tells the versions of the in-place conversion series apart (reference §4.2, §13): the number under which
 * KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES is answered (250 in v8, 252 as applied for Linux 7.4), and which memory a
 * guest_memfd memslot serves shared accesses from in the in-place mode. Providers answer the capability by probing
 * the ioctl; these cases check that the number, where the kernel has one of the known ones, says the same.
 */
class InPlaceSeriesTest extends KvmTargetTest {

    /** KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES in v8 of the series; mainline uses 250 for KVM_CAP_PPC_COMPAT_CAPS. */
    static final int CAP_AS_POSTED_IN_V8 = 250;
    /** KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES as applied for 7.4. */
    static final int CAP_AS_APPLIED = 252;

    /** The known number whose system-scope answer has PRIVATE (the in-place mode of that version), or -1. */
    private int numberInPlace() {
        for (int number : new int[] {CAP_AS_APPLIED, CAP_AS_POSTED_IN_V8}) {
            if ((Integer.toUnsignedLong(kvm.checkExtension(number)) & MemoryAttribute.PRIVATE) != 0) return number;
        }
        return -1;
    }

    private boolean inPlaceHost() { return allCaps().stream().anyMatch(VmCaps::inPlace); }

    @Test
    void theSeriesNumberAnswersWhatTheProbeFinds() {
        int number = numberInPlace();
        assumeTrue(!inPlaceHost() || number >= 0, "the in-place mode is on, but under neither known number ("
                + CAP_AS_POSTED_IN_V8 + " in v8, " + CAP_AS_APPLIED + " as applied): " + describeTypes());
        for (VmCaps c : allCaps()) {
            KvmVm vm = createVm(c.type());
            for (int n : new int[] {CAP_AS_POSTED_IN_V8, CAP_AS_APPLIED}) {
                long expected = n == number ? c.gmemAttributes() : 0;
                assertEquals(expected, Integer.toUnsignedLong(vm.checkExtension(n)),
                        c + ": KVM_CHECK_EXTENSION(" + n + ") against the probed KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES");
            }
        }
        if (number >= 0) {
            assertEquals(Integer.toUnsignedLong(kvm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES)),
                    Integer.toUnsignedLong(kvm.checkExtension(number)), "system scope: probed and numbered answers");
        }
    }

    private static long dword(GuestCpu cpu, long gpa) {
        byte[] b = cpu.read(gpa, 4);
        return (b[0] & 0xffL) | (b[1] & 0xffL) << 8 | (b[2] & 0xffL) << 16 | (b[3] & 0xffL) << 24;
    }

    /**
     * A guest_memfd created without MMAP, bound to a memslot whose userspace_addr is a memfd the host filled with 0xc3,
     * its pages converted to shared: as applied, every guest_memfd memslot of the in-place mode is gmem-only
     * (kvm_gmem_prepare_memory_region sets KVM_MEMSLOT_GMEM_ONLY for {@code gmem_in_place_conversion ||
     * kvm_gmem_supports_mmap}), so the guest reads guest_memfd's zeroes and its writes never reach the memfd; v8 still
     * served such a file's shared pages from userspace_addr (Yan Zhao's review of v8: "shared memory is allocated from
     * different backends").
     */
    @Test
    void sharedAccessesOfAGuestMemfdMemslotInTheInPlaceMode() {
        VmCaps c = requireType(VmType.X86_SW_PROTECTED, x -> x.type() == VmType.X86_SW_PROTECTED && x.inPlace(),
                "no software-protected VM in the in-place mode");
        assumeTrue(c.hasUserMemory2(), c + ": no KVM_CAP_USER_MEMORY2");
        int number = numberInPlace();
        assumeTrue(number >= 0, "the in-place mode of an unknown version of the series: " + describeTypes());
        boolean gmemOnly = number == CAP_AS_APPLIED;
        KvmVm vm = createVm(c.type());
        GuestMemfd gmem = createGmem(vm, 2 * page, 0);
        HostMemfd memfd = createMemfd(2 * page);
        HostMapping host = map(memfd, 0, 2 * page);
        host.write(0, filled((int) (2 * page), 0xc3));
        vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(1, DATA_GPA, 2 * page, host.address(), gmem, 0));
        gmem.setMemoryAttributes2(MemoryAttributes2.of(0, 2 * page, 0));
        KvmVcpu vcpu = createVcpu(vm, 0);
        GuestProgram program = cpu -> {
            cpu.out(PORT_VALUE, 4, dword(cpu, DATA_GPA));
            cpu.write(DATA_GPA + page, filled((int) page, 0x5a));
            cpu.out(PORT_STEP, 4, 1);
            cpu.out(PORT_VALUE, 4, dword(cpu, DATA_GPA + page));
        };
        RealModeCode code = new RealModeCode()
                .dataSegments(DATA_GPA)
                .loadEax(0).outEax(PORT_VALUE)
                .fill((int) page, (int) (page / 4), 0x5a5a5a5aL)
                .out(PORT_STEP, 1)
                .loadEax((int) page).outEax(PORT_VALUE)
                .hlt();
        if (vcpu instanceof SimVcpu sim) {
            sim.load(program);
        } else {
            assumeTrue(isX86(), "the real-kernel variant of this guest is x86 code");
            GuestRig.loadRealModeCode(this, vm, vcpu, code.toBytes());
        }
        String version = gmemOnly ? "as applied (KVM_CAP " + CAP_AS_APPLIED + ")" : "as posted in v8 (KVM_CAP " + CAP_AS_POSTED_IN_V8 + ")";
        List<Long> values = GuestRig.runToEnd(vcpu, new GuestRig.Host() {
            @Override public long hypercall(VcpuExit.Hypercall h) { return fail("unexpected " + h); }

            @Override public void step(int step, List<Long> soFar) {
                assertEquals(1, step);
                assertFilled(gmemOnly ? 0xc3 : 0x5a, host.read(page, (int) page),
                        version + ": the memfd at userspace_addr after the guest wrote page 1");
            }
        });
        assertEquals(GuestRig.hex(List.of(gmemOnly ? 0L : 0xc3c3c3c3L, 0x5a5a5a5aL)), GuestRig.hex(values),
                version + ": what the guest read from page 0, then from the page 1 it wrote");
    }
}
