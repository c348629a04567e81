package org.janus.kvm.api;

import java.util.List;
import java.util.Map;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The KVM system device (/dev/kvm), registered as a service by each provider. Service properties:
 * {@link #PROVIDER} ({@code linux} or {@code sim}) and, for the software KVM, {@link #PROFILE} and
 * {@link #HARDWARE}.
 */
@ProviderType
public interface Kvm {
    /** Service property: which provider this is, {@code linux} (real /dev/kvm) or {@code sim} (software KVM). */
    String PROVIDER = "janus.kvm.provider";
    /** Service property of the software KVM: the kernel profile it models, e.g. {@code 7.3}. */
    String PROFILE = "janus.kvm.profile";
    /** Service property of the software KVM: the hardware it models, e.g. {@code amd-snp}. */
    String HARDWARE = "janus.kvm.hardware";
    /** The only KVM API version there has ever been; refuse to run with any other. */
    int API_VERSION = 12;

    /** {@code linux} or {@code sim}. */
    String provider();

    /** A one-line description: the provider, and the kernel (release or modelled profile) and hardware. */
    String description();

    /** KVM_GET_API_VERSION: 12 on every kernel since 2.6.22. */
    int getApiVersion();

    /**
     * KVM_CHECK_EXTENSION on /dev/kvm: 0 when unsupported, otherwise a capability-specific positive value.
     * The answer at system scope is what KVM supports for some VM; ask the VM ({@link KvmVm#checkExtension})
     * for what a given VM type supports.
     */
    int checkExtension(KvmCap cap);

    /** KVM_CHECK_EXTENSION with a raw capability number, for capabilities {@link KvmCap} lacks. */
    int checkExtension(int cap);

    /**
     * KVM_CREATE_VM.
     *
     * @param type a {@link VmType} value
     * @throws KvmException EINVAL for a type this host does not support; ENOMEM, EMFILE
     */
    KvmVm createVm(long type);

    /** KVM_GET_VCPU_MMAP_SIZE: the size of the shared kvm_run area of a vCPU. */
    int getVcpuMmapSize();

    /**
     * KVM_GET_SUPPORTED_CPUID (x86).
     *
     * @throws KvmException E2BIG when more than {@code maxEntries} entries exist; ENOTTY off x86
     */
    List<CpuidEntry> getSupportedCpuid(int maxEntries);

    /**
     * KVM_GET_DEVICE_ATTR on /dev/kvm (needs KVM_CAP_SYS_ATTRIBUTES), e.g. the SEV VMSA features.
     *
     * @throws KvmException ENXIO when the attribute does not exist; ENOTTY without system attributes
     */
    long getDeviceAttr(DeviceAttr attr);

    /** KVM_HAS_DEVICE_ATTR on /dev/kvm: whether the attribute exists. */
    boolean hasDeviceAttr(DeviceAttr attr);

    /**
     * memfd_create(2) with a fixed size: ordinary host memory, e.g. the shared side of legacy-mode RAM. It is
     * not KVM, but it is offered here so that nothing above this layer makes system calls.
     *
     * @throws KvmException ENOMEM, EMFILE
     */
    HostMemfd memfdCreate(String name, long size);

    /**
     * memfd_create(2) with {@link MemfdFlags} beyond MFD_CLOEXEC, e.g. the shared side of legacy RAM on huge pages
     * ({@link MemfdFlags#HUGETLB} with {@link MemfdFlags#HUGE_2MB} or {@link MemfdFlags#HUGE_1GB}). A hugetlb file's
     * size must be a multiple of its page size. Its pages come from the host's pool (/proc/sys/vm/nr_hugepages):
     * mapping it reserves them, and {@link HostMemfd#mmap} fails with ENOMEM when too few are free. Punching a hole
     * frees only the huge pages the hole covers whole; a smaller hole zeroes its part and frees nothing.
     *
     * @throws KvmException EINVAL for unknown flags, a size code without HUGETLB or a page size the host does not
     *         have (memfd_create), or a size that is not a multiple of the huge page (ftruncate); ENOMEM, EMFILE
     */
    default HostMemfd memfdCreate(String name, long size, long flags) {
        if (flags == 0) return memfdCreate(name, size);
        throw new KvmException("memfd_create", Errno.EINVAL, "the " + provider() + " provider creates no memfd with flags 0x"
                + Long.toHexString(flags));
    }

    /**
     * Opens /dev/sev, whose descriptor SEV commands carry.
     *
     * @throws KvmException ENOENT where the host has no SEV firmware; EACCES without permission
     */
    SevDevice openSevDevice();

    /** The host's page size (getpagesize()); guest_memfd sizes and offsets are multiples of it. */
    int pageSize();

    /**
     * Diagnostics that are not KVM answers, e.g. the kvm module parameters read from sysfs
     * ({@code vm_memory_attributes}, {@code gmem_in_place_conversion}) and the kernel release. For reports only:
     * never choose behaviour from them.
     */
    Map<String, String> hostDiagnostics();
}
