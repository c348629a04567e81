package org.janus.kvm.api;

/** struct kvm_cpuid_entry2. */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** kvm_cpuid_entry2.flags: the leaf's output depends on the index (ECX). */
    public static final int FLAG_SIGNIFCANT_INDEX = 1;
}
