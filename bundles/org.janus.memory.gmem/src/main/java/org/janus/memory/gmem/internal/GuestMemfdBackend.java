package org.janus.memory.gmem.internal;

import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.GuestRam;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.MemoryException.Step;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamHandover;
import org.janus.memory.api.RamRegion;
import org.osgi.service.component.annotations.Component;

/**
 * The in-place backend: one guest_memfd per region, created MMAP (and INIT_SHARED where the VM allows it),
 * mmapped as the region's host memory and bound as a gmem-only memslot. Conversions set the attribute on the
 * guest_memfd itself; a page keeps its contents and never has a second copy.
 */
@Component(service = MemoryBackend.class, property = MemoryBackend.PROPERTY + "=" + MemoryBackend.GUEST_MEMFD)
public final class GuestMemfdBackend implements MemoryBackend {

    @Override public String id() { return GUEST_MEMFD; }

    @Override public Suitability suitability(KvmVm vm) {
        long flags = vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS);
        long gmemAttributes = vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES);
        long vmAttributes = vm.checkExtension(KvmCap.MEMORY_ATTRIBUTES);
        if (vm.checkExtension(KvmCap.GUEST_MEMFD) == 0)
            return Suitability.no("KVM offers no guest_memfd for this VM (KVM_CAP_GUEST_MEMFD=0)");
        if ((flags & GuestMemfdFlags.MMAP) == 0)
            return Suitability.no("guest_memfd cannot be mmapped on this kernel (KVM_CAP_GUEST_MEMFD_FLAGS=0x"
                    + Long.toHexString(flags) + " lacks MMAP, which needs Linux 6.18)" + legacyHint(vmAttributes));
        if ((gmemAttributes & MemoryAttribute.PRIVATE) != 0)
            return Suitability.yes("the VM takes PRIVATE per guest_memfd (KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0x"
                    + Long.toHexString(gmemAttributes) + "): in-place conversion");
        if ((vmAttributes & MemoryAttribute.PRIVATE) != 0)
            return Suitability.no("this VM has private memory but its attributes are VM-wide (KVM_CAP_MEMORY_ATTRIBUTES=0x"
                    + Long.toHexString(vmAttributes) + ", KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES=0): the kernel lacks the "
                    + "in-place conversion series or runs it with the mode off" + legacyHint(vmAttributes));
        if ((flags & GuestMemfdFlags.INIT_SHARED) != 0)
            return Suitability.yes("the VM has no private memory; RAM is a shared guest_memfd (MMAP|INIT_SHARED)");
        return Suitability.no("the VM has no private memory and guest_memfd cannot start shared (KVM_CAP_GUEST_MEMFD_FLAGS=0x"
                + Long.toHexString(flags) + ")");
    }

    private static String legacyHint(long vmAttributes) {
        return (vmAttributes & MemoryAttribute.PRIVATE) != 0 ? "; the legacy backend works here" : "";
    }

    @Override public GuestRam create(Kvm kvm, KvmVm vm, RamRegion region, PageState initial) {
        Suitability s = suitability(vm);
        if (!s.usable()) throw new MemoryException(region.name(), Step.CHECK, GpaRange.of(region.gpa(), region.size()),
                "the guest-memfd backend cannot serve this VM: " + s.reason(), null);
        if (region.hugePageSize() != 0)
            throw new MemoryException(region.name(), Step.CHECK, GpaRange.of(region.gpa(), region.size()), "huge pages back only the "
                    + "legacy backend's shared face: a hugetlb-backed guest_memfd is a kernel series in no kernel Janus supports", null);
        boolean hasPrivate = (vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES) & MemoryAttribute.PRIVATE) != 0;
        if (!hasPrivate && initial == PageState.PRIVATE)
            throw new MemoryException(region.name(), Step.CHECK, GpaRange.of(region.gpa(), region.size()),
                    "the VM has no private memory, so RAM cannot start private", null);
        boolean initShared = (vm.checkExtension(KvmCap.GUEST_MEMFD_FLAGS) & GuestMemfdFlags.INIT_SHARED) != 0;
        // Without INIT_SHARED a new guest_memfd starts private; with it, shared.
        PageState created = initShared ? PageState.SHARED : PageState.PRIVATE;
        GuestMemfd gmem = null;
        HostMapping mapping = null;
        boolean bound = false;
        Step step = Step.CREATE_BACKING;
        try {
            gmem = vm.createGuestMemfd(region.size(), GuestMemfdFlags.MMAP | (initShared ? GuestMemfdFlags.INIT_SHARED : 0));
            step = Step.MAP;
            mapping = gmem.mmap(0, region.size(), true);
            step = Step.BIND_MEMSLOT;
            vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(region.slot(), region.gpa(), region.size(),
                    mapping.address(), gmem, 0));
            bound = true;
            if (created != initial) {
                step = Step.SET_INITIAL_STATE;
                gmem.setMemoryAttributes2(MemoryAttributes2.of(0, region.size(),
                        initial == PageState.PRIVATE ? MemoryAttribute.PRIVATE : 0));
            }
            return new GuestMemfdRam(region, vm, gmem, mapping, initial, kvm.pageSize(), hasPrivate);
        } catch (KvmException e) {
            if (bound) {
                try {
                    deleteSlot(vm, region, gmem, mapping);
                } catch (KvmException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            if (mapping != null) mapping.close();
            if (gmem != null) gmem.close();
            throw new MemoryException(region.name(), step, GpaRange.of(region.gpa(), region.size()), e.getMessage(), e);
        }
    }

    @Override public GuestRam adopt(Kvm kvm, KvmVm vm, RamHandover handover) {
        if (!GUEST_MEMFD.equals(handover.backend()))
            throw new MemoryException(handover.region().name(), Step.CHECK, GpaRange.of(handover.region().gpa(), handover.region().size()),
                    "the guest-memfd backend cannot take over RAM of the " + handover.backend() + " backend", null);
        return new GuestMemfdRam(vm, handover);
    }

    /** KVM_SET_USER_MEMORY_REGION2 with size 0: the slot is deleted. */
    static void deleteSlot(KvmVm vm, RamRegion region, GuestMemfd gmem, HostMapping mapping) {
        vm.setUserMemoryRegion2(UserMemoryRegion2.withGuestMemfd(region.slot(), region.gpa(), 0, mapping.address(), gmem, 0));
    }
}
