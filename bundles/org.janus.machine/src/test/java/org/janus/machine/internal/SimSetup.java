package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.VmType;
import org.janus.kvm.sim.SimProfile;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;

/**
 * One kernel profile of the software KVM with a memory strategy it supports and a VM type. Every profile appears
 * with each backend it can serve: in place on {@code inplace}, legacy with and without discard on the others.
 */
record SimSetup(SimProfile profile, Strategy strategy, long vmType) {

    /** How guest RAM is backed and converted. */
    enum Strategy {
        /** One guest_memfd per region, attributes on it, contents kept. */
        IN_PLACE,
        /** Shared memfd + private guest_memfd, VM-wide attributes, the stale side punched at each conversion. */
        LEGACY_DISCARD,
        /** As {@link #LEGACY_DISCARD} but both sides are kept, as QEMU does with hugetlb. */
        LEGACY_KEEP;

        MemoryBackend backend() {
            return switch (this) {
                case IN_PLACE -> new GuestMemfdBackend();
                case LEGACY_DISCARD -> new LegacyBackend(true);
                case LEGACY_KEEP -> new LegacyBackend(false);
            };
        }

        boolean preservesContents() { return this == IN_PLACE; }

        boolean discards() { return this == LEGACY_DISCARD; }
    }

    /** The profiles with the strategies they support, for both VM types with private memory. */
    static List<SimSetup> all() {
        List<SimSetup> out = new ArrayList<>();
        for (long type : new long[] {VmType.X86_SW_PROTECTED, VmType.X86_SNP}) {
            out.add(new SimSetup(SimProfile.INPLACE, Strategy.IN_PLACE, type));
            for (SimProfile p : new SimProfile[] {SimProfile.K7_3, SimProfile.K6_12, SimProfile.INPLACE_OFF}) {
                out.add(new SimSetup(p, Strategy.LEGACY_DISCARD, type));
                out.add(new SimSetup(p, Strategy.LEGACY_KEEP, type));
            }
        }
        return out;
    }

    boolean isSnp() { return vmType == VmType.X86_SNP; }

    @Override public String toString() {
        return profile.id() + "/" + strategy.name().toLowerCase().replace('_', '-') + "/" + VmType.name(vmType);
    }
}
