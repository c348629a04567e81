package org.janus.memory.gmem.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes2;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.MemoryException;
import org.janus.memory.api.MemoryFigures;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.janus.memory.api.RamHandover;
import org.janus.memory.api.RamRegion;
import org.janus.memory.spi.BackedGuestRam;

/** RAM of one region on one guest_memfd, converted in place. */
final class GuestMemfdRam extends BackedGuestRam {
    /** How often a page the kernel still finds referenced is asked for again before the guest is told EAGAIN. */
    static final int EAGAIN_RETRIES = 3;

    private final KvmVm vm;
    private final GuestMemfd gmem;
    private final HostMapping mapping;
    private final boolean hasPrivateMemory;

    GuestMemfdRam(RamRegion region, KvmVm vm, GuestMemfd gmem, HostMapping mapping, PageState initial, long pageSize,
                  boolean hasPrivateMemory) {
        super(region, MemoryBackend.GUEST_MEMFD, pageSize, initial);
        this.vm = vm;
        this.gmem = gmem;
        this.mapping = mapping;
        this.hasPrivateMemory = hasPrivateMemory;
    }

    /** RAM taken over from another instance of this backend. */
    GuestMemfdRam(KvmVm vm, RamHandover handover) {
        super(handover);
        this.vm = vm;
        this.gmem = handover.backing(GMEM, GuestMemfd.class);
        this.mapping = handover.backing(MAPPING, HostMapping.class);
        this.hasPrivateMemory = handover.backing(HAS_PRIVATE, Boolean.class);
    }

    static final String GMEM = "gmem";
    static final String MAPPING = "mapping";
    static final String HAS_PRIVATE = "hasPrivateMemory";

    @Override protected Map<String, Object> backing() {
        return Map.of(GMEM, gmem, MAPPING, mapping, HAS_PRIVATE, hasPrivateMemory);
    }

    @Override public boolean hasPrivateMemory() { return hasPrivateMemory; }

    @Override public boolean preservesContents() { return true; }

    @Override protected HostMapping hostMapping() { return mapping; }

    /**
     * To private, listeners drop their pins first (the kernel refuses pages with extra references); to shared,
     * the pages become mappable first and listeners map them after.
     */
    @Override protected List<ConversionStep> plan(GpaRange run, PageState target) {
        ConversionStep attribute = step(() -> "KVM_SET_MEMORY_ATTRIBUTES2 " + target + " " + run, MemoryException.Step.SET_ATTRIBUTES,
                () -> setAttributes(run, target), () -> setAttributes(run, target.opposite()));
        List<ConversionStep> listeners = tellListeners(run, target);
        if (listeners.isEmpty()) return List.of(attribute);
        List<ConversionStep> steps = new ArrayList<>(listeners.size() + 1);
        if (target == PageState.PRIVATE) {
            steps.addAll(listeners);
            steps.add(attribute);
        } else {
            steps.add(attribute);
            steps.addAll(listeners);
        }
        return steps;
    }

    private void setAttributes(GpaRange run, PageState target) throws Exception {
        long offset = run.start() - region().gpa();
        long attributes = target == PageState.PRIVATE ? MemoryAttribute.PRIVATE : 0;
        for (int attempt = 0; ; attempt++) {
            try {
                gmem.setMemoryAttributes2(MemoryAttributes2.of(offset, run.size(), attributes));
                return;
            } catch (KvmException e) {
                if (e.errno() == Errno.EINTR) continue;
                if (e.errno() != Errno.EAGAIN || e.errorOffset() == KvmException.NONE || attempt >= EAGAIN_RETRIES) throw e;
                // A page is still referenced (pinned for DMA, spliced): ask the listeners again for that page.
                long pageGpa = region().gpa() + (e.errorOffset() & -pageSize());
                askListenersToRelease(pageGpa, pageSize());
            }
        }
    }

    /**
     * One file holds both faces: its allocation is split by the state of the pages that mincore finds resident
     * (guest_memfd pages are never swapped, so allocated and resident agree).
     */
    @Override public synchronized MemoryFigures figures() {
        long sharedResident = 0;
        long privateResident = 0;
        for (PageStateMap.Run r : states().runs(region().gpa(), region().end())) {
            long resident = mapping.residentBytes(r.range().start() - region().gpa(), r.range().size());
            if (r.state() == PageState.SHARED) sharedResident += resident;
            else privateResident += resident;
        }
        return new MemoryFigures(region().size(), states().privateBytes(), sharedResident, sharedResident,
                privateResident, privateResident);
    }

    @Override protected void release() {
        MemoryException failure = null;
        try {
            GuestMemfdBackend.deleteSlot(vm, region(), gmem, mapping);
        } catch (KvmException e) {
            // pKVM keeps a protected VM's memslots once it has run (EPERM) and drops them when the VM is destroyed,
            // which is what releasing its RAM precedes; the file and mapping go all the same.
            if (!e.is(Errno.EPERM))
                failure = new MemoryException(region().name(), MemoryException.Step.RELEASE, GpaRange.of(region().gpa(), region().size()), e.getMessage(), e);
        }
        mapping.close();
        gmem.close();
        if (failure != null) throw failure;
    }
}
