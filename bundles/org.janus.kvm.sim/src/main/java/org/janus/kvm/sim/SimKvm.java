package org.janus.kvm.sim;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.program.ModelledKvm;
import org.janus.kvm.sim.internal.SimHost;

/**
 * The software KVM: /dev/kvm of a modelled kernel ({@link SimProfile}) on modelled hardware ({@link SimHardware}).
 * Each instance is an independent host. VMs it creates return {@link SimVcpu}s from
 * {@link KvmVm#createVcpu(int)}.
 */
public final class SimKvm implements ModelledKvm {
    private final SimHost host;

    private SimKvm(SimProfile profile, SimHardware hardware) {
        this.host = new SimHost(profile, hardware);
    }

    /** A software KVM modelling {@code profile} on {@code hardware}. */
    public static SimKvm create(SimProfile profile, SimHardware hardware) {
        if (profile == null || hardware == null) throw new NullPointerException("profile and hardware are required");
        return new SimKvm(profile, hardware);
    }

    public SimProfile profile() { return host.rules().profile(); }

    public SimHardware hardware() { return host.rules().hardware(); }

    @Override public String profileId() { return profile().id(); }

    @Override public String hardwareId() { return hardware().id(); }

    @Override public List<String> profileIds() { return Arrays.stream(SimProfile.values()).map(SimProfile::id).toList(); }

    @Override public List<String> hardwareIds() { return Arrays.stream(SimHardware.values()).map(SimHardware::id).toList(); }

    @Override public SimKvm host(String profileId, String hardwareId) {
        return create(profileId == null ? profile() : SimProfile.byId(profileId), hardwareId == null ? hardware() : SimHardware.byId(hardwareId));
    }

    /**
     * Makes the (afterCalls+1)-th call of {@code operation} from now on fail with {@code errno} and change nothing.
     * Operations are named as in {@link org.janus.kvm.api.KvmException#operation()}: {@code
     * KVM_SET_MEMORY_ATTRIBUTES2}, {@code KVM_SET_MEMORY_ATTRIBUTES}, {@code fallocate} (guest_memfd and memfd),
     * {@code KVM_SET_USER_MEMORY_REGION2}, {@code KVM_CREATE_GUEST_MEMFD}, {@code KVM_CREATE_VM},
     * {@code KVM_CREATE_VCPU}, {@code KVM_ENABLE_CAP}, {@code KVM_RUN}, and the SNP launch commands of
     * KVM_MEMORY_ENCRYPT_OP by their names {@code KVM_SEV_SNP_LAUNCH_START}, {@code KVM_SEV_SNP_LAUNCH_UPDATE},
     * {@code KVM_SEV_SNP_LAUNCH_FINISH}, and the TDX commands {@code KVM_TDX_CAPABILITIES}, {@code KVM_TDX_INIT_VM},
     * {@code KVM_TDX_INIT_VCPU}, {@code KVM_TDX_INIT_MEM_REGION} (counted per page) and {@code KVM_TDX_FINALIZE_VM}
     * (the exception's operation is then KVM_MEMORY_ENCRYPT_OP); the host calls {@code memfd_create} and {@code mmap}
     * of a memfd or guest_memfd. Only calls that pass the operation's
     * argument checks are counted (an invalid call fails with its own errno). An injected EAGAIN of
     * KVM_SET_MEMORY_ATTRIBUTES2 reports the range's start as error_offset. Each injected fault fires once.
     */
    @Override public void injectFault(String operation, int errno, int afterCalls) { host.injectFault(operation, errno, afterCalls); }

    /**
     * How often each operation {@link #injectFault} can fail has been called on this host so far, by its name: a
     * test runs a path once, reads which calls it made, and then fails each of them in turn.
     */
    @Override public Map<String, Long> faultPointCalls() { return host.faultPointCalls(); }

    /** How many injected faults have fired on this host so far. */
    public long faultsFired() { return host.faultsFired(); }

    /**
     * The model's view of one GPA of a VM this host created: whether KVM treats it as private now (the VM-wide
     * attribute in legacy mode, the bound guest_memfd's attribute in place). There is no such ioctl; tests compare
     * a VMM's own tracking against it.
     */
    public boolean isPrivate(KvmVm vm, long gpa) {
        if (!(vm instanceof org.janus.kvm.sim.internal.SimVmView v)) throw new IllegalArgumentException(vm + " is not a VM of the software KVM");
        return v.isPrivate(gpa);
    }

    /**
     * The launch digest the modelled firmware computed for {@code vm}: for an SNP launch, once
     * KVM_SEV_SNP_LAUNCH_FINISH has succeeded, the SEV firmware's own SHA-384 chain over the pages and VMSAs it was
     * given; for a TD, once KVM_TDX_FINALIZE_VM has succeeded, the TDX module's MRTD over the TDH.MEM.PAGE.ADD and
     * TDH.MR.EXTEND records of its initial memory. Real hardware has no such ioctl (the guest's attestation report or
     * TD report carries the digest); tests compare a VMM's expected digest against it. Empty until then.
     */
    @Override public Optional<byte[]> launchDigest(KvmVm vm) {
        if (!(vm instanceof org.janus.kvm.sim.internal.SimVmView v)) throw new IllegalArgumentException(vm + " is not a VM of the software KVM");
        return v.launchDigest();
    }

    /** Removes every injected fault that has not fired yet. */
    @Override public void clearFaults() { host.clearFaults(); }

    @Override public String provider() { return "sim"; }

    @Override public String description() { return host.description(); }

    @Override public int getApiVersion() { return API_VERSION; }

    @Override public int checkExtension(KvmCap cap) { return host.checkExtension(cap); }

    @Override public int checkExtension(int cap) { return host.checkExtension(cap); }

    @Override public KvmVm createVm(long type) { return host.createVm(type); }

    @Override public int getVcpuMmapSize() { return host.getVcpuMmapSize(); }

    @Override public List<CpuidEntry> getSupportedCpuid(int maxEntries) { return host.getSupportedCpuid(maxEntries); }

    @Override public long getDeviceAttr(DeviceAttr attr) { return host.getDeviceAttr(attr); }

    @Override public boolean hasDeviceAttr(DeviceAttr attr) { return host.hasDeviceAttr(attr); }

    @Override public HostMemfd memfdCreate(String name, long size) { return host.memfdCreate(name, size); }

    /** A real memfd with these flags (hugetlb included): the model's host memory is the host's. */
    @Override public HostMemfd memfdCreate(String name, long size, long flags) { return host.memfdCreate(name, size, flags); }

    @Override public SevDevice openSevDevice() { return host.openSevDevice(); }

    @Override public int pageSize() { return org.janus.kvm.libc.Sys.PAGE_SIZE; }

    @Override public Map<String, String> hostDiagnostics() { return host.hostDiagnostics(); }

    @Override public String toString() { return description(); }
}
