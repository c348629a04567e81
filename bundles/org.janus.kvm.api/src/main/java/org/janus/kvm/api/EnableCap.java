package org.janus.kvm.api;

import java.util.Arrays;

/** struct kvm_enable_cap: the capability number, flags and up to four arguments. */
public record EnableCap(int cap, int flags, long[] args) {
    public EnableCap {
        if (args.length > 4) throw new IllegalArgumentException("kvm_enable_cap has 4 args");
        args = Arrays.copyOf(args, 4);
    }

    public static EnableCap of(KvmCap cap, long... args) { return new EnableCap(cap.number(), 0, args); }

    @Override public long[] args() { return args.clone(); }

    @Override public boolean equals(Object o) {
        return o instanceof EnableCap e && e.cap == cap && e.flags == flags && Arrays.equals(e.args, args);
    }

    @Override public int hashCode() { return cap * 31 + Arrays.hashCode(args); }

    @Override public String toString() { return "EnableCap[cap=" + cap + ", flags=" + flags + ", args=" + Arrays.toString(args) + "]"; }
}
