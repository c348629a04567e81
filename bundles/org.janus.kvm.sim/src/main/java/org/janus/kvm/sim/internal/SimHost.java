package org.janus.kvm.sim.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.VmType;
import org.janus.kvm.libc.Memfd;
import org.janus.kvm.libc.Sys;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimProfile;

/**
 * The software KVM's system scope (/dev/kvm) and the state shared by its VMs: the rules of the modelled kernel,
 * the model lock, injected faults and the host mappings it knows. {@link org.janus.kvm.sim.SimKvm} is its face.
 */
public final class SimHost {
    /** Guards every model structure (memslots, attributes, pins, mapping protections) and guest memory access. */
    final Object lock = new Object();
    private final KernelRules rules;
    private final FaultInjector faults = new FaultInjector();
    private final HostAddressSpace addresses = new HostAddressSpace();
    private final AtomicInteger vmIds = new AtomicInteger();

    public SimHost(SimProfile profile, SimHardware hardware) {
        this.rules = new KernelRules(profile, hardware);
    }

    public KernelRules rules() { return rules; }

    FaultInjector faults() { return faults; }

    HostAddressSpace addresses() { return addresses; }

    int pageSize() { return Sys.PAGE_SIZE; }

    public void injectFault(String operation, int errno, int afterCalls) { faults.inject(operation, errno, afterCalls); }

    public void clearFaults() { faults.clear(); }

    public Map<String, Long> faultPointCalls() { return faults.calls(); }

    public long faultsFired() { return faults.fired(); }

    public String description() {
        return "software KVM (sim): kernel profile " + rules.profile().id() + ", hardware " + rules.hardware().id();
    }

    public int checkExtension(KvmCap cap) {
        if (cap == KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES) return (int) rules.gmemMemoryAttributes(null);
        return rules.checkExtension(cap.number(), null);
    }

    public int checkExtension(int cap) { return rules.checkExtension(cap, null); }

    public KvmVm createVm(long type) {
        if (!rules.supportsVmType(type)) throw new KvmException("KVM_CREATE_VM", Errno.EINVAL,
                "VM type " + VmType.name(type) + " is not supported on " + rules.hardware().id());
        faults.check("KVM_CREATE_VM");
        return new SimVm(this, type, vmIds.incrementAndGet());
    }

    public int getVcpuMmapSize() { return rules.vcpuMmapPages() * pageSize(); }

    /** KVM_GET_SUPPORTED_CPUID: a plausible host list; E2BIG when it does not fit. */
    public List<CpuidEntry> getSupportedCpuid(int maxEntries) {
        // arm64 has no such ioctl: kvm_arch_dev_ioctl answers -EINVAL for every request.
        if (!rules.isX86()) throw new KvmException("KVM_GET_SUPPORTED_CPUID", Errno.EINVAL, "no CPUID on arm64");
        List<CpuidEntry> entries = supportedCpuid();
        if (maxEntries < 1 || maxEntries < entries.size()) throw new KvmException("KVM_GET_SUPPORTED_CPUID", Errno.E2BIG,
                entries.size() + " entries do not fit in " + maxEntries);
        return entries;
    }

    private List<CpuidEntry> supportedCpuid() {
        boolean amd = rules.hardware() == SimHardware.AMD_SNP;
        List<CpuidEntry> l = new ArrayList<>();
        if (amd) l.add(new CpuidEntry(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65));       // AuthenticAMD
        else l.add(new CpuidEntry(0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69));          // GenuineIntel
        l.add(new CpuidEntry(1, 0, 0, 0x000a0f11, 0x00000800, 0xf6fa3203, 0x178bfbff));
        l.add(new CpuidEntry(7, 0, CpuidEntry.FLAG_SIGNIFCANT_INDEX, 0, 0x219c07ab, 0x0040069c, 0x00000010));
        l.add(new CpuidEntry(0xd, 0, CpuidEntry.FLAG_SIGNIFCANT_INDEX, 0x2e7, 0x340, 0x980, 0));
        l.add(new CpuidEntry(0xd, 1, CpuidEntry.FLAG_SIGNIFCANT_INDEX, 0xf, 0, 0, 0));
        l.add(new CpuidEntry(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d));     // KVMKVMKVM
        l.add(new CpuidEntry(0x40000001, 0, 0, 0x01007afb, 0, 0, 0));
        l.add(new CpuidEntry(0x80000000, 0, 0, amd ? 0x80000021 : 0x80000008, 0, 0, 0));
        l.add(new CpuidEntry(0x80000001, 0, 0, 0, 0, 0x75c237ff, 0x2fd3fbff));
        l.add(new CpuidEntry(0x80000008, 0, 0, 0x3030, 0, 0, 0));
        // 0x8000001f: SEV (bit 1), SEV-ES (bit 3), SEV-SNP (bit 4); C-bit position 51 in ebx[5:0].
        if (amd) l.add(new CpuidEntry(0x8000001f, 0, 0, 0x1b, 0x33, 0, 0));
        return l;
    }

    public long getDeviceAttr(DeviceAttr attr) {
        Long v = systemAttribute("KVM_GET_DEVICE_ATTR", attr);
        if (v == null) throw new KvmException("KVM_GET_DEVICE_ATTR", Errno.ENXIO,
                "no attribute group " + attr.group() + " attr " + attr.attr());
        return v;
    }

    public boolean hasDeviceAttr(DeviceAttr attr) { return systemAttribute("KVM_HAS_DEVICE_ATTR", attr) != null; }

    /** kvm_x86_dev_{get,has}_attr: group 0 is KVM's own, other groups go to the vendor module (SEV on AMD). */
    private Long systemAttribute(String op, DeviceAttr attr) {
        if (!rules.isX86()) throw new KvmException(op, Errno.EINVAL, "no system attributes on arm64");
        if (attr.flags() != 0) throw new KvmException(op, Errno.EINVAL, "flags must be 0");
        if (attr.group() == DeviceAttr.X86_GRP_SYSTEM)
            return attr.attr() == DeviceAttr.X86_XCOMP_GUEST_SUPP ? Long.valueOf(KernelRules.XCOMP_GUEST_SUPP) : null;
        if (attr.group() == DeviceAttr.X86_GRP_SEV && rules.hardware() == SimHardware.AMD_SNP
                && attr.attr() == DeviceAttr.X86_SEV_VMSA_FEATURES) return KernelRules.SEV_VMSA_FEATURES;
        return null;
    }

    public HostMemfd memfdCreate(String name, long size) { return memfdCreate(name, size, 0); }

    public HostMemfd memfdCreate(String name, long size, long flags) {
        faults.check("memfd_create");
        return new SimHostMemfd(Memfd.create(name, size, flags), this);
    }

    public SevDevice openSevDevice() {
        if (rules.hardware() != SimHardware.AMD_SNP) throw new KvmException("open /dev/sev", Errno.ENOENT,
                "no SEV firmware on " + rules.hardware().id());
        return new SimSevDevice();
    }

    /** An open /dev/sev of the model: SNP commands must carry one that is still open (else EBADF, as for a closed fd). */
    static final class SimSevDevice implements SevDevice {
        volatile boolean open = true;

        @Override public void close() { open = false; }
    }

    public Map<String, String> hostDiagnostics() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("provider", "sim");
        d.put("sim.profile", rules.profile().id());
        d.put("sim.hardware", rules.hardware().id());
        d.put("kernel.release", rules.kernelRelease());
        // /sys/module/kvm/parameters/gmem_in_place_conversion, under the key the linux provider uses, and like it
        // only where the file exists: kernels with the series that declare the parameter (§4.3, §13).
        String param = rules.gmemInPlaceConversionParameter();
        if (param != null) d.put("kvm.parameter.gmem_in_place_conversion", param);
        d.put("note", "modelled kernel, not a real /dev/kvm");
        return d;
    }
}
