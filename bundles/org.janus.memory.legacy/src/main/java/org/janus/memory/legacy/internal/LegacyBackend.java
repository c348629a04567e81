package org.janus.memory.legacy.internal;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemfdFlags;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.MemoryException.Step;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamHandover;
import org.janus.memory.api.RamRegion;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The legacy fallback: a region's shared face is an ordinary memfd mapped at the memslot's userspace_addr, its
 * private face a guest_memfd created with flags 0, and the attribute is VM-wide. Two pages exist per guest page
 * unless the stale side is discarded at each conversion, which this backend does unless configured not to.
 */
@Component(service = MemoryBackend.class, property = MemoryBackend.PROPERTY + "=" + MemoryBackend.LEGACY,
        configurationPid = LegacyBackend.PID)
@Designate(ocd = LegacyBackend.Config.class)
public final class LegacyBackend implements MemoryBackend {
    public static final String PID = "org.janus.memory.legacy";

    @ObjectClassDefinition(name = "Janus legacy memory backend",
            description = "Guest RAM with VM-wide memory attributes and separate shared and private backings.")
    public @interface Config {
        @AttributeDefinition(name = "Discard the stale side",
                description = "Free the side a page left at each conversion (punch the guest_memfd on to-shared, the "
                        + "shared memfd on to-private). Switching it off keeps both copies, as QEMU does for hugetlb "
                        + "backings; it exists to measure that cost.")
        boolean discard() default true;
    }

    private volatile boolean discard = true;

    public LegacyBackend() {}

    /** A backend outside the framework (tests, benchmarks). */
    public LegacyBackend(boolean discard) { this.discard = discard; }

    @Activate
    void activate(Config config) { this.discard = config.discard(); }

    @Override public String id() { return LEGACY; }

    @Override public Suitability suitability(KvmVm vm) {
        long vmAttributes = vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES);
        long gmemAttributes = vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES);
        if ((vmAttributes & MemoryAttribute.PRIVATE) != 0) {
            if (vm.checkExtension(KvmCap.GUEST_MEMFD) == 0)
                return Suitability.no("the VM takes PRIVATE attributes but offers no guest_memfd (KVM_CAP_GUEST_MEMFD=0)");
            return Suitability.yes("the VM takes PRIVATE VM-wide (KVM_CAP_MEMORY_ATTRIBUTES=0x" + Long.toHexString(vmAttributes)
                    + "): shared memfd + private guest_memfd, discard on conversion" + (discard ? "" : " switched OFF"));
        }
        if ((gmemAttributes & MemoryAttribute.PRIVATE) != 0)
            return Suitability.no("the kernel runs the in-place conversion mode (KVM_CAP_MEMORY_ATTRIBUTES=0, "
                    + "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x" + Long.toHexString(gmemAttributes)
                    + "), where the VM-wide KVM_SET_MEMORY_ATTRIBUTES takes no PRIVATE (EINVAL) or, in a kernel "
                    + "built without CONFIG_KVM_VM_MEMORY_ATTRIBUTES, does not exist; the guest-memfd backend works here");
        return Suitability.yes("the VM has no private memory; RAM is a plain shared memfd");
    }

    /** The RAM keeps the discard setting it was created with: the VM's memory behaviour does not change under it. */
    @Override public GuestRam adopt(Kvm kvm, KvmVm vm, RamHandover handover) {
        if (!LEGACY.equals(handover.backend()))
            throw new MemoryException(handover.region().name(), Step.CHECK, GpaRange.of(handover.region().gpa(), handover.region().size()),
                    "the legacy backend cannot take over RAM of the " + handover.backend() + " backend", null);
        return new LegacyRam(vm, handover);
    }

    @Override public GuestRam create(Kvm kvm, KvmVm vm, RamRegion region, PageState initial) {
        GpaRange all = GpaRange.of(region.gpa(), region.size());
        Suitability s = suitability(vm);
        if (!s.usable()) throw new MemoryException(region.name(), Step.CHECK, all, "the legacy backend cannot serve this VM: " + s.reason(), null);
        boolean hasPrivate = (vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES) & MemoryAttribute.PRIVATE) != 0;
        if (!hasPrivate && initial == PageState.PRIVATE)
            throw new MemoryException(region.name(), Step.CHECK, all, "the VM has no private memory, so RAM cannot start private", null);
        HostMemfd shared = null;
        HostMapping mapping = null;
        GuestMemfd gmem = null;
        boolean bound = false;
        Step step = Step.CREATE_BACKING;
        try {
            shared = region.hugePageSize() == 0 ? kvm.memfdCreate("janus-" + region.name() + "-shared", region.size())
                    : kvm.memfdCreate("janus-" + region.name() + "-shared", region.size(), MemfdFlags.hugetlb(region.hugePageSize()));
            step = Step.MAP;
            mapping = shared.mmap(0, region.size(), true);
            step = Step.CREATE_BACKING;
            if (hasPrivate) gmem = vm.createGuestMemfd(region.size(), 0);
            step = Step.BIND_MEMSLOT;
            vm.setUserMemoryRegion2(slot(region, region.size(), mapping, gmem));
            bound = true;
            // VM attributes start shared; a region that starts private says so now.
            if (initial == PageState.PRIVATE) {
                step = Step.SET_INITIAL_STATE;
                vm.setMemoryAttributes(MemoryAttributes.of(region.gpa(), region.size(), MemoryAttribute.PRIVATE));
            }
            return new LegacyRam(region, vm, shared, mapping, gmem, initial, kvm.pageSize(), discard);
        } catch (KvmException e) {
            if (bound) {
                try {
                    vm.setUserMemoryRegion2(slot(region, 0, mapping, gmem));
                } catch (KvmException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            if (gmem != null) gmem.close();
            if (mapping != null) mapping.close();
            if (shared != null) shared.close();
            throw new MemoryException(region.name(), step, all, hugePages(region, step, e), e);
        }
    }

    /**
     * The kernel's answer in one line; for a hugetlb face what it means: mapping a hugetlb file reserves its pages,
     * so ENOMEM there is a pool with too few free huge pages, and EINVAL from memfd_create a page size the host lacks.
     */
    static String hugePages(RamRegion region, Step step, KvmException e) {
        long page = region.hugePageSize();
        if (page == 0) return e.getMessage();
        String size = page == 1L << 30 ? "1 GiB" : "2 MiB";
        long pages = region.size() / page;
        if (step == Step.MAP && e.errno() == Errno.ENOMEM)
            return "the shared face needs " + pages + " free " + size + " huge pages and the host's pool has fewer (mmap: ENOMEM); "
                    + "reserve them first, e.g. echo " + pages + " > " + (page == 1L << 30
                    ? "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages" : "/proc/sys/vm/nr_hugepages");
        if (step == Step.CREATE_BACKING && e.errno() == Errno.EINVAL)
            return "the host cannot create a hugetlb memfd of " + size + " pages of this size (" + e.getMessage() + ")";
        return e.getMessage();
    }

    static UserMemoryRegion2 slot(RamRegion region, long size, HostMapping mapping, GuestMemfd gmem) {
        return gmem == null ? UserMemoryRegion2.plain(region.slot(), region.gpa(), size, mapping.address())
                : UserMemoryRegion2.withGuestMemfd(region.slot(), region.gpa(), size, mapping.address(), gmem, 0);
    }
}
