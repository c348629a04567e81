package org.janus.kvm.api;

/** Mode bits of fallocate(2) that guest_memfd and memfd files accept or refuse. */
public final class FallocateMode {
    public static final int KEEP_SIZE = 0x01;
    public static final int PUNCH_HOLE = 0x02;
    public static final int COLLAPSE_RANGE = 0x08;
    public static final int ZERO_RANGE = 0x10;
    public static final int INSERT_RANGE = 0x20;
    public static final int UNSHARE_RANGE = 0x40;

    private FallocateMode() {}
}
