package org.janus.kvm.api;

import java.util.Arrays;

/** struct kvm_sregs (x86_64): segment and descriptor-table registers, control registers, EFER, APIC base. */
public record Sregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss, Segment tr, Segment ldt,
                    DTable gdt, DTable idt, long cr0, long cr2, long cr3, long cr4, long cr8, long efer,
                    long apicBase, long[] interruptBitmap) {

    public Sregs {
        if (interruptBitmap.length != 4) throw new IllegalArgumentException("interrupt_bitmap has 4 words");
        interruptBitmap = interruptBitmap.clone();
    }

    /** struct kvm_segment. */
    public record Segment(long base, int limit, int selector, int type, int present, int dpl, int db, int s,
                          int l, int g, int avl, int unusable) {
        /** A real-mode segment at {@code selector << 4}. */
        public static Segment real(int selector, int type) {
            return new Segment((long) selector << 4, 0xffff, selector, type, 1, 0, 0, 1, 0, 0, 0, 0);
        }
    }

    /** struct kvm_dtable. */
    public record DTable(long base, int limit) {}

    @Override public long[] interruptBitmap() { return interruptBitmap.clone(); }

    public Sregs withCs(Segment v) {
        return new Sregs(v, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    @Override public boolean equals(Object o) {
        return o instanceof Sregs r && r.cs.equals(cs) && r.ds.equals(ds) && r.es.equals(es) && r.fs.equals(fs)
                && r.gs.equals(gs) && r.ss.equals(ss) && r.tr.equals(tr) && r.ldt.equals(ldt) && r.gdt.equals(gdt)
                && r.idt.equals(idt) && r.cr0 == cr0 && r.cr2 == cr2 && r.cr3 == cr3 && r.cr4 == cr4 && r.cr8 == cr8
                && r.efer == efer && r.apicBase == apicBase && Arrays.equals(r.interruptBitmap, interruptBitmap);
    }

    @Override public int hashCode() { return cs.hashCode() * 31 + Long.hashCode(cr0); }
}
