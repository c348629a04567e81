package org.janus.kvm.linux.internal;

import com.sun.jna.Pointer;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.linux.internal.Structs.KvmCpuidEntry2;

/** Reads and writes struct kvm_cpuid_entry2. */
final class Cpuid {
    private Cpuid() {}

    static CpuidEntry read(Pointer p) {
        return new CpuidEntry((int) KvmCpuidEntry2.FUNCTION.get(p), (int) KvmCpuidEntry2.INDEX.get(p),
                (int) KvmCpuidEntry2.FLAGS.get(p), (int) KvmCpuidEntry2.EAX.get(p), (int) KvmCpuidEntry2.EBX.get(p),
                (int) KvmCpuidEntry2.ECX.get(p), (int) KvmCpuidEntry2.EDX.get(p));
    }

    static void write(Pointer p, CpuidEntry e) {
        KvmCpuidEntry2.FUNCTION.put(p, e.function());
        KvmCpuidEntry2.INDEX.put(p, e.index());
        KvmCpuidEntry2.FLAGS.put(p, e.flags());
        KvmCpuidEntry2.EAX.put(p, e.eax());
        KvmCpuidEntry2.EBX.put(p, e.ebx());
        KvmCpuidEntry2.ECX.put(p, e.ecx());
        KvmCpuidEntry2.EDX.put(p, e.edx());
    }
}
