package org.janus.kvm.linux.internal;

import com.sun.jna.Pointer;

/**
 * One member of a {@link CStruct}: where it lies and how wide it is. Scalars are read zero-extended (the kernel's
 * types are unsigned); arrays are addressed by element.
 *
 * @param member the C member designator as offsetof() takes it, e.g. {@code exit_reason} or {@code io.data_offset}
 * @param elementSize bytes of one element (the whole member for a scalar or nested struct)
 * @param count number of elements (1 for a scalar)
 * @param type the struct type of a nested struct member, or null
 */
record CField(CStruct owner, String member, int offset, int elementSize, int count, CStruct type) {

    /** sizeof the member. */
    int size() { return elementSize * count; }

    long get(Pointer p) { return get(p, 0); }

    void put(Pointer p, long value) { put(p, 0, value); }

    long get(Pointer p, int index) {
        long at = at(index);
        return switch (elementSize) {
            case 1 -> p.getByte(at) & 0xffL;
            case 2 -> p.getShort(at) & 0xffffL;
            case 4 -> p.getInt(at) & 0xffffffffL;
            case 8 -> p.getLong(at);
            default -> throw new IllegalStateException(this + " is not a scalar");
        };
    }

    void put(Pointer p, int index, long value) {
        long at = at(index);
        switch (elementSize) {
            case 1 -> p.setByte(at, (byte) value);
            case 2 -> p.setShort(at, (short) value);
            case 4 -> p.setInt(at, (int) value);
            case 8 -> p.setLong(at, value);
            default -> throw new IllegalStateException(this + " is not a scalar");
        }
    }

    /** The nested struct (or array element) at {@code index}, as a pointer to its first byte. */
    Pointer share(Pointer p, int index) { return p.share(at(index)); }

    private long at(int index) {
        if (index < 0 || index >= count) throw new IndexOutOfBoundsException(this + "[" + index + "]");
        return offset + (long) index * elementSize;
    }

    @Override public String toString() { return owner.name() + "." + member + "@" + offset; }
}
