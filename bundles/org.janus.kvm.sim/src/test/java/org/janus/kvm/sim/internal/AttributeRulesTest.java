package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.P;
import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;

/** The errno order of both attribute interfaces (§4.1, §4.4) and which interface each profile offers. */
class AttributeRulesTest {
    private static final long PRIV = MemoryAttribute.PRIVATE;

    @Test
    void vmWideAttributesCheckFlagsThenAttributesThenSizeThenAlignment() {
        SimKvm kvm = SimKvm.create(SimProfile.K7_3, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED); KvmVm plain = kvm.createVm(VmType.DEFAULT)) {
            assertEquals(8, vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
            assertEquals(0, plain.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
            // flags win over everything else that is wrong
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(new MemoryAttributes(1, 0, 0xff, 1)));
            assertErrno(Errno.EINVAL, () -> plain.setMemoryAttributes(MemoryAttributes.of(0, P, PRIV)));
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(MemoryAttributes.of(0, 0, PRIV)));
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(MemoryAttributes.of(-P, 2L * P, PRIV)));
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(MemoryAttributes.of(1, P, PRIV)));
            assertErrno(Errno.EINVAL, () -> vm.setMemoryAttributes(MemoryAttributes.of(0, P + 1, PRIV)));
            // no memslot needed: the attribute is per GFN
            vm.setMemoryAttributes(MemoryAttributes.of(1L << 40, 16L * P, PRIV));
            plain.setMemoryAttributes(MemoryAttributes.of(0, P, 0));
        }
    }

    @Test
    void eachModeRefusesTheOtherInterface() {
        for (SimProfile p : SimProfile.values()) {
            SimKvm kvm = SimKvm.create(p, SimHardware.AMD_SNP);
            try (KvmVm vm = kvm.createVm(VmType.X86_SNP)) {
                long flags = p == SimProfile.K6_12 ? 0 : GuestMemfdFlags.MMAP;
                try (GuestMemfd g = vm.createGuestMemfd(4L * P, flags)) {
                    if (p == SimProfile.INPLACE || p == SimProfile.K7_4_INPLACE || p == SimProfile.K7_4_NOVMATTR) {
                        // The VM-wide ioctl takes no PRIVATE in the in-place mode; built without it, it does not exist.
                        int vmWide = p == SimProfile.K7_4_NOVMATTR ? Errno.ENOTTY : Errno.EINVAL;
                        assertErrno(vmWide, () -> vm.setMemoryAttributes(MemoryAttributes.of(0, P, PRIV)));
                        g.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0));
                        int number = p == SimProfile.INPLACE ? KernelRules.CAP_GMEM_MEMORY_ATTRIBUTES_V8
                                : KernelRules.CAP_GMEM_MEMORY_ATTRIBUTES_APPLIED;
                        int other = p == SimProfile.INPLACE ? KernelRules.CAP_GMEM_MEMORY_ATTRIBUTES_APPLIED
                                : KernelRules.CAP_GMEM_MEMORY_ATTRIBUTES_V8;
                        assertEquals(8, vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES));
                        assertEquals(8, vm.checkExtension(number));
                        assertEquals(0, vm.checkExtension(other));
                        assertEquals(0, vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
                    } else {
                        assertErrno(Errno.ENOTTY, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV)));
                        vm.setMemoryAttributes(MemoryAttributes.of(0, P, PRIV));
                        assertEquals(0, vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES));
                        assertEquals(8, vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES));
                    }
                }
            }
        }
    }

    @Test
    void attributes2ValidatesInTheSeriesOrder() {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED); KvmVm plain = kvm.createVm(VmType.DEFAULT);
             GuestMemfd g = vm.createGuestMemfd(8L * P, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED);
             GuestMemfd pg = plain.createGuestMemfd(8L * P, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED)) {
            long[] res = new long[MemoryAttributes2.RESERVED_WORDS];
            long[] dirty = res.clone();
            dirty[10] = 1;
            // step 2 (flags) before step 3 (reserved) before step 5 (size)
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(new MemoryAttributes2(0, 0, PRIV, 1, dirty)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(new MemoryAttributes2(0, P, PRIV, 0, dirty)));
            // a VM without private memory converts nothing, not even to the "shared" it already is
            assertErrno(Errno.EINVAL, () -> pg.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV)));
            assertErrno(Errno.EINVAL, () -> pg.setMemoryAttributes2(MemoryAttributes2.of(0, P, 0)));
            assertEquals(0, plain.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, P, 1L << 4)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, 0, PRIV)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(-P, 2L * P, PRIV)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(1, P, PRIV)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, P - 1, PRIV)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(8L * P, P, PRIV)));
            assertErrno(Errno.EINVAL, () -> g.setMemoryAttributes2(MemoryAttributes2.of(7L * P, 2L * P, PRIV)));
            g.setMemoryAttributes2(MemoryAttributes2.of(0, 8L * P, PRIV));
            g.close();
            assertErrno(Errno.EBADF, () -> g.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV)));
        }
    }

    @Test
    void initSharedFollowsPrivateMemoryAndMode() {
        for (SimProfile p : new SimProfile[] {SimProfile.K7_3, SimProfile.INPLACE_OFF, SimProfile.INPLACE, SimProfile.K7_4,
                SimProfile.K7_4_INPLACE, SimProfile.K7_4_NOVMATTR}) {
            SimKvm kvm = SimKvm.create(p, SimHardware.INTEL_TDX);
            boolean inPlace = p == SimProfile.INPLACE || p == SimProfile.K7_4_INPLACE || p == SimProfile.K7_4_NOVMATTR;
            try (KvmVm tdx = kvm.createVm(VmType.X86_TDX); KvmVm plain = kvm.createVm(VmType.DEFAULT)) {
                long both = GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED;
                assertEquals(both, kvm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS));
                assertEquals(both, plain.checkExtension(KvmCap.GUEST_MEMFD_FLAGS));
                assertEquals(inPlace ? both : GuestMemfdFlags.MMAP, tdx.checkExtension(KvmCap.GUEST_MEMFD_FLAGS));
                if (inPlace) tdx.createGuestMemfd(P, both).close();
                else assertErrno(Errno.EINVAL, () -> tdx.createGuestMemfd(P, both));
            }
        }
        SimKvm old = SimKvm.create(SimProfile.K6_12, SimHardware.X86);
        try (KvmVm vm = old.createVm(VmType.X86_SW_PROTECTED)) {
            assertEquals(0, vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS));
            assertErrno(Errno.EINVAL, () -> vm.createGuestMemfd(P, GuestMemfdFlags.MMAP));
            for (int bit = 0; bit < 64; bit++) {
                long f = 1L << bit;
                assertErrno(Errno.EINVAL, () -> vm.createGuestMemfd(P, f));
            }
            assertErrno(Errno.EINVAL, () -> vm.createGuestMemfd(0, 0));
            assertErrno(Errno.EINVAL, () -> vm.createGuestMemfd(P + 1, 0));
        }
    }

    @Test
    void injectedFaultFailsTheDueCallAndChangesNothing() {
        SimKvm kvm = SimKvm.create(SimProfile.INPLACE, SimHardware.X86);
        try (KvmVm vm = kvm.createVm(VmType.X86_SW_PROTECTED);
             GuestMemfd g = vm.createGuestMemfd(4L * P, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED);
             var m = g.mmap(0, 4L * P, true)) {
            kvm.injectFault("KVM_SET_MEMORY_ATTRIBUTES2", Errno.EAGAIN, 1);
            g.setMemoryAttributes2(MemoryAttributes2.of(0, P, PRIV));
            var e = assertErrno(Errno.EAGAIN, () -> g.setMemoryAttributes2(MemoryAttributes2.of(2L * P, P, PRIV)));
            assertEquals(2L * P, e.errorOffset());
            m.writeLong(2L * P, 7);                      // still shared: the failed call changed nothing
            g.setMemoryAttributes2(MemoryAttributes2.of(2L * P, P, PRIV));
            assertErrno(Errno.EFAULT, () -> m.readLong(2L * P));
            kvm.injectFault("fallocate", Errno.ENOMEM, 0);
            assertErrno(Errno.ENOMEM, () -> g.allocate(0, P));
            g.allocate(0, P);
        }
    }
}
