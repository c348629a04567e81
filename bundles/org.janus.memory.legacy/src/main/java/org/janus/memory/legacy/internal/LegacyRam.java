package org.janus.memory.legacy.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.MemoryException.Step;
import org.janus.memory.api.MemoryFigures;
import org.janus.memory.api.PageState;
import org.janus.memory.api.RamHandover;
import org.janus.memory.api.RamRegion;
import org.janus.memory.spi.BackedGuestRam;

/** RAM of one region with a shared memfd and a private guest_memfd, converted by VM-wide attributes. */
final class LegacyRam extends BackedGuestRam {
    private final KvmVm vm;
    private final HostMemfd shared;
    private final HostMapping mapping;
    private final GuestMemfd gmem;
    private final boolean discard;

    LegacyRam(RamRegion region, KvmVm vm, HostMemfd shared, HostMapping mapping, GuestMemfd gmem, PageState initial,
              long pageSize, boolean discard) {
        super(region, MemoryBackend.LEGACY, pageSize, initial);
        this.vm = vm;
        this.shared = shared;
        this.mapping = mapping;
        this.gmem = gmem;
        this.discard = discard;
    }

    static final String SHARED = "shared";
    static final String MAPPING = "mapping";
    static final String GMEM = "gmem";
    static final String DISCARD = "discard";

    /** RAM taken over from another instance of this backend; without a guest_memfd when the VM has no private memory. */
    LegacyRam(KvmVm vm, RamHandover handover) {
        super(handover);
        this.vm = vm;
        this.shared = handover.backing(SHARED, HostMemfd.class);
        this.mapping = handover.backing(MAPPING, HostMapping.class);
        this.gmem = handover.backing().containsKey(GMEM) ? handover.backing(GMEM, GuestMemfd.class) : null;
        this.discard = handover.backing(DISCARD, Boolean.class);
    }

    @Override protected Map<String, Object> backing() {
        Map<String, Object> b = new HashMap<>();
        b.put(SHARED, shared);
        b.put(MAPPING, mapping);
        if (gmem != null) b.put(GMEM, gmem);
        b.put(DISCARD, discard);
        return b;
    }

    @Override public boolean hasPrivateMemory() { return gmem != null; }

    /** Each face is its own page: what the guest wrote on one side is not on the other. */
    @Override public boolean preservesContents() { return false; }

    @Override protected HostMapping hostMapping() { return mapping; }

    /**
     * As QEMU orders it: the attribute first, then the listeners, then the side the page left is freed. The discard
     * comes last because it cannot be undone; a failed discard undoes the rest, and the stale side, untouched by a
     * refused fallocate, is valid again.
     */
    @Override protected List<ConversionStep> plan(GpaRange run, PageState target) {
        List<ConversionStep> steps = new ArrayList<>();
        steps.add(step(() -> "KVM_SET_MEMORY_ATTRIBUTES " + target + " " + run, Step.SET_ATTRIBUTES,
                () -> setAttributes(run, target), () -> setAttributes(run, target.opposite())));
        steps.addAll(tellListeners(run, target));
        if (discard) {
            long offset = run.start() - region().gpa();
            steps.add(step(() -> "discard of the " + (target == PageState.PRIVATE ? "shared" : "private") + " side " + run, Step.DISCARD,
                    () -> (target == PageState.PRIVATE ? shared : gmem).punchHole(offset, run.size()), () -> { }));
        }
        return steps;
    }

    private void setAttributes(GpaRange run, PageState target) {
        vm.setMemoryAttributes(MemoryAttributes.of(run.start(), run.size(), target == PageState.PRIVATE ? MemoryAttribute.PRIVATE : 0));
    }

    /**
     * The shared memfd is measured by st_blocks and mincore; the guest_memfd as its provider can measure it (-1
     * where nothing can), and its pages are never swapped, so allocated = resident.
     */
    @Override public synchronized MemoryFigures figures() {
        long sharedAllocated = shared.allocatedBytes();
        long sharedResident = mapping.residentBytes(0, region().size());
        long privateAllocated = gmem == null ? 0 : gmem.allocatedBytes();
        return new MemoryFigures(region().size(), states().privateBytes(), sharedAllocated, sharedResident,
                privateAllocated, privateAllocated);
    }

    @Override protected void release() {
        MemoryException failure = null;
        try {
            vm.setUserMemoryRegion2(LegacyBackend.slot(region(), 0, mapping, gmem));
        } catch (KvmException e) {
            failure = new MemoryException(region().name(), Step.RELEASE, GpaRange.of(region().gpa(), region().size()), e.getMessage(), e);
        }
        if (gmem != null) gmem.close();
        mapping.close();
        shared.close();
        if (failure != null) throw failure;
    }
}
