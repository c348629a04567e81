package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A struct of the KVM uAPI as the kernel lays it out on x86_64 (LP64, natural alignment, no packing): its C name,
 * its size, and the offset and size of every member Janus reads or writes. Each struct is declared once, in
 * {@link Structs}; the tests compare every number here with the reference and with the kernel headers.
 */
final class CStruct {
    private final String name;
    private final int size;
    private final String guard;
    private final List<CField> fields = new ArrayList<>();

    /**
     * @param name the C struct tag, e.g. {@code kvm_run}
     * @param size sizeof(struct name)
     * @param guard a macro the headers define only where the struct exists (for structs still outside mainline),
     *        or null
     */
    CStruct(String name, int size, String guard) {
        this.name = name;
        this.size = size;
        this.guard = guard;
    }

    CStruct(String name, int size) { this(name, size, null); }

    String name() { return name; }

    int size() { return size; }

    String guard() { return guard; }

    List<CField> fields() { return Collections.unmodifiableList(fields); }

    /** Zero-filled native memory of this struct's size. */
    Memory allocate() { return allocate(size); }

    /** Zero-filled native memory of {@code bytes}, for a struct followed by a flexible array. */
    static Memory allocate(long bytes) {
        Memory m = new Memory(bytes);
        m.clear();
        return m;
    }

    CField u8(String member, int offset) { return add(member, offset, 1, 1); }

    CField u16(String member, int offset) { return add(member, offset, 2, 1); }

    CField u32(String member, int offset) { return add(member, offset, 4, 1); }

    CField u64(String member, int offset) { return add(member, offset, 8, 1); }

    /** An array member, e.g. {@code __u64 args[6]}; {@code member} may name a union member ({@code hypercall.args}). */
    CField array(String member, int offset, int elementSize, int count) {
        return add(member, offset, elementSize, count);
    }

    /** A member that is itself a struct, e.g. {@code struct kvm_segment cs}. */
    CField nested(String member, int offset, CStruct type) {
        CField f = new CField(this, member, offset, type.size(), 1, type);
        return register(f, 8);
    }

    private CField add(String member, int offset, int elementSize, int count) {
        return register(new CField(this, member, offset, elementSize, count, null), elementSize);
    }

    private CField register(CField f, int alignment) {
        if (f.offset() % alignment != 0 || f.offset() + f.size() > size)
            throw new IllegalStateException(name + "." + f.member() + " at " + f.offset() + " (+" + f.size()
                    + ") is misaligned or outside " + size + " bytes");
        fields.add(f);
        return f;
    }

    @Override public String toString() { return "struct " + name + " (" + size + " bytes)"; }
}
