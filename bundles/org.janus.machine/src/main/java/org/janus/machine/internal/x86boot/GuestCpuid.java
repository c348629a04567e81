package org.janus.machine.internal.x86boot;

import java.util.ArrayList;
import java.util.List;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;

/**
 * The CPUID a Linux guest sees: what KVM_GET_SUPPORTED_CPUID offers, with the per-vCPU facts filled in that the
 * supported list cannot know (the initial APIC ID and the logical processor count in leaf 1, the x2APIC ID in
 * leaves 0xB and 0x1F), and the hypervisor bit set so that the kernel looks for KVM's paravirtual leaves.
 */
public final class GuestCpuid {
    /** Enough for every leaf and subleaf current CPUs report (KVM's own limit is 256). */
    static final int MAX_ENTRIES = 256;
    static final int LEAF1_ECX_HYPERVISOR = 1 << 31;
    private static final System.Logger LOG = System.getLogger(GuestCpuid.class.getName());

    private GuestCpuid() {}

    public static void set(Kvm kvm, KvmVcpu vcpu, int vcpus) {
        List<CpuidEntry> supported = kvm.getSupportedCpuid(MAX_ENTRIES);
        // What KVM offered, for a guest that trips over its CPU (e.g. an emulated host's XSAVE leaves).
        if (LOG.isLoggable(System.Logger.Level.DEBUG))
            supported.forEach(e -> LOG.log(System.Logger.Level.DEBUG, String.format("cpuid %08x.%d flags %d: %08x %08x %08x %08x",
                    e.function(), e.index(), e.flags(), e.eax(), e.ebx(), e.ecx(), e.edx())));
        vcpu.setCpuid2(forVcpu(supported, vcpu.id(), vcpus));
    }

    static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int id, int vcpus) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            if (e.function() == 1) {
                int ebx = (e.ebx() & 0x0000ffff) | (Math.min(vcpus, 255) << 16) | (id << 24);
                out.add(new CpuidEntry(e.function(), e.index(), e.flags(), e.eax(), ebx, e.ecx() | LEAF1_ECX_HYPERVISOR, e.edx()));
            } else if (e.function() == 0xb || e.function() == 0x1f) {
                out.add(new CpuidEntry(e.function(), e.index(), e.flags(), e.eax(), e.ebx(), e.ecx(), id));
            } else {
                out.add(e);
            }
        }
        return out;
    }
}
