package org.janus.kvm.sim.internal;

import static org.janus.kvm.sim.internal.SimTestSupport.assertErrno;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.junit.jupiter.api.Test;

class SystemScopeTest {
    @Test
    void unknownIdsNameTheValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SimProfile.byId("6.18"));
        assertTrue(e.getMessage().contains("6.12, 7.3, inplace, inplace-off, 7.4, 7.4-inplace, 7.4-novmattr"), e.getMessage());
        assertEquals(SimProfile.K7_4_NOVMATTR, SimProfile.byId("7.4-novmattr"));
        e = assertThrows(IllegalArgumentException.class, () -> SimHardware.byId("riscv"));
        assertTrue(e.getMessage().contains("x86, amd-snp, intel-tdx, arm64, arm64-pkvm"), e.getMessage());
        assertEquals(SimHardware.ARM64_PKVM, SimHardware.byId("arm64-pkvm"));
    }

    @Test
    void vmTypesFollowTheHardware() {
        SimKvm snp = SimKvm.create(SimProfile.INPLACE, SimHardware.AMD_SNP);
        assertEquals(0b11111, snp.checkExtension(KvmCap.VM_TYPES));
        assertErrno(Errno.EINVAL, () -> snp.createVm(VmType.X86_TDX));
        assertEquals(0x20, snp.getDeviceAttr(DeviceAttr.of(DeviceAttr.X86_GRP_SEV, DeviceAttr.X86_SEV_VMSA_FEATURES)));
        snp.openSevDevice().close();
        try (KvmVm sev = snp.createVm(VmType.X86_SEV); KvmVm plain = snp.createVm(VmType.DEFAULT)) {
            sev.memoryEncryptOpProbe();
            // sev_mem_enc_ioctl answers a NULL argument before it looks at the VM: 0 on every VM of an SEV host.
            plain.memoryEncryptOpProbe();
            assertEquals(0, sev.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES));
        }
        SimKvm tdx = SimKvm.create(SimProfile.K7_3, SimHardware.INTEL_TDX);
        assertEquals(0b100011, tdx.checkExtension(KvmCap.VM_TYPES));
        assertErrno(Errno.ENXIO, () -> tdx.getDeviceAttr(DeviceAttr.of(DeviceAttr.X86_GRP_SEV, DeviceAttr.X86_SEV_VMSA_FEATURES)));
        assertErrno(Errno.ENOENT, tdx::openSevDevice);
        assertErrno(Errno.E2BIG, () -> tdx.getSupportedCpuid(1));
        assertTrue(tdx.getSupportedCpuid(256).size() > 1);
        SimKvm arm = SimKvm.create(SimProfile.K7_3, SimHardware.ARM64);
        assertEquals(0, arm.checkExtension(KvmCap.VM_TYPES));
        assertEquals(3, arm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS));
        assertErrno(Errno.EINVAL, () -> arm.createVm(1));
        arm.createVm(40).close();
        assertEquals(12, arm.getApiVersion());
        assertEquals("Y", SimKvm.create(SimProfile.INPLACE, SimHardware.X86).hostDiagnostics()
                .get("kvm.parameter.gmem_in_place_conversion"));
    }
}
