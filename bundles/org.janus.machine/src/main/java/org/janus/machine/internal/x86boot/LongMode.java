package org.janus.machine.internal.x86boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;

/**
 * What a vCPU needs to enter a 64-bit kernel directly: identity-mapped page tables, a flat GDT with the selectors
 * the boot protocol names (__BOOT_CS 0x10, __BOOT_DS 0x18), and the control registers of long mode with paging.
 * The page tables map the first {@link #IDENTITY_GIB} GiB with 2 MiB pages (1 GiB pages need pdpe1gb, which not every
 * CPU model offers); the kernel builds its own tables for everything else before it needs it.
 */
public final class LongMode {
    public static final int IDENTITY_GIB = 4;
    public static final int BOOT_CS = 0x10;
    public static final int BOOT_DS = 0x18;
    /** A TSS descriptor, only so that TR holds a valid busy TSS as VMX entry checks demand. */
    public static final int BOOT_TSS = 0x20;

    static final long CR0_PE = 1L, CR0_ET = 1L << 4, CR0_PG = 1L << 31;
    static final long CR4_PAE = 1L << 5;
    static final long EFER_LME = 1L << 8, EFER_LMA = 1L << 10;
    static final long PTE_P = 1, PTE_RW = 2, PTE_PS = 0x80;

    private LongMode() {}

    /** The GDT: null, null, 64-bit code at 0x10, flat data at 0x18, a TSS at 0x20. */
    public static byte[] gdt() {
        ByteBuffer b = ByteBuffer.allocate(5 * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0).putLong(0);
        b.putLong(0x00af9b000000ffffL);    // code: present, DPL 0, execute/read, accessed, L=1, G=1
        b.putLong(0x00cf93000000ffffL);    // data: present, DPL 0, read/write, accessed, D/B=1, G=1
        b.putLong(0x00008b0000000067L);    // 64-bit TSS (busy) at 0, limit 0x67; its upper half is left out (base < 4 GiB)
        return b.array();
    }

    /**
     * The page tables at {@code base}: a PML4 page, a PDPT page, then {@link #IDENTITY_GIB} page directories.
     *
     * @return {@code 2 + IDENTITY_GIB} pages; {@code base} goes into CR3
     */
    public static byte[] pageTables(long base) {
        ByteBuffer b = ByteBuffer.allocate((2 + IDENTITY_GIB) * 4096).order(ByteOrder.LITTLE_ENDIAN);
        long pdpt = base + 4096;
        b.putLong(0, pdpt | PTE_P | PTE_RW);
        for (int g = 0; g < IDENTITY_GIB; g++) {
            long pd = base + (2L + g) * 4096;
            b.putLong(4096 + g * 8, pd | PTE_P | PTE_RW);
            for (int i = 0; i < 512; i++) {
                long addr = ((long) g << 30) | ((long) i << 21);
                b.putLong((2 + g) * 4096 + i * 8, addr | PTE_P | PTE_RW | PTE_PS);
            }
        }
        return b.array();
    }

    public static int pageTableBytes() { return (2 + IDENTITY_GIB) * 4096; }

    /** The vCPU's special registers for the 64-bit entry, keeping what KVM set up (APIC base, interrupt bitmap). */
    public static Sregs sregs(Sregs current, long gdtBase, long cr3) {
        Sregs.Segment code = new Sregs.Segment(0, 0xffffffff, BOOT_CS, 0xb, 1, 0, 0, 1, 1, 1, 0, 0);
        Sregs.Segment data = new Sregs.Segment(0, 0xffffffff, BOOT_DS, 0x3, 1, 0, 1, 1, 0, 1, 0, 0);
        Sregs.Segment tss = new Sregs.Segment(0, 0x67, BOOT_TSS, 0xb, 1, 0, 0, 0, 0, 0, 0, 0);
        Sregs.Segment ldt = new Sregs.Segment(0, 0xffff, 0, 0x2, 1, 0, 0, 0, 0, 0, 0, 0);
        return new Sregs(code, data, data, data, data, data, tss, ldt, new Sregs.DTable(gdtBase, 5 * 8 - 1),
                new Sregs.DTable(0, 0), CR0_PE | CR0_ET | CR0_PG, 0, cr3, CR4_PAE, current.cr8(),
                EFER_LME | EFER_LMA, current.apicBase(), current.interruptBitmap());
    }

    /** RIP at the 64-bit entry, RSI the boot_params, interrupts off (RFLAGS.IF clear), a stack below the zero page. */
    public static Regs regs(long entry, long bootParams, long stack) {
        return new Regs(0, 0, 0, 0, bootParams, 0, stack, stack, 0, 0, 0, 0, 0, 0, 0, 0, entry, 0x2);
    }
}
