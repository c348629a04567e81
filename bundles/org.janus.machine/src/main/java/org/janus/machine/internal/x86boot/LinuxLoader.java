package org.janus.machine.internal.x86boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.Regs;

/**
 * Places a bzImage, its initrd and command line in guest RAM and says where the vCPU enters it, following the 64-bit
 * boot protocol: boot_params ("zero page") with the setup header copied from the image, an e820 map, the command
 * line and the initrd announced in it; identity page tables, a GDT; RSI = boot_params, RIP = load address + 0x200.
 * Every byte goes through a {@link GuestWriter} (the memory backend's host mapping), never past it.
 *
 * <p>Fixed low addresses, all below 640 KiB and clear of the BIOS data area a kernel may still peek at:
 * the GDT at {@value #GDT}, the stack below boot_params at {@value #BOOT_PARAMS}, page tables from {@value #PAGE_TABLES},
 * the command line at {@value #CMDLINE}.
 */
public final class LinuxLoader {
    static final long GDT = 0x500;
    static final long STACK = 0x6ff0;
    static final long BOOT_PARAMS = 0x7000;
    static final long PAGE_TABLES = 0x9000;
    static final long CMDLINE = 0x20000;
    /** The command line may run up to the EBDA; the kernel's own cmdline_size is the real limit. */
    static final long CMDLINE_END = 0x9f000;
    /** Where a bzImage's protected-mode part goes when it is not relocatable (boot.rst: "at 0x100000"). */
    static final long HIGH_LOAD = 0x100000;
    static final long FOUR_GIB = 1L << 32;
    static final int TYPE_OF_LOADER_UNDEFINED = 0xff;

    /** Writes bytes to guest physical memory. */
    @FunctionalInterface
    public interface GuestWriter {
        void write(long gpa, byte[] data);
    }

    /**
     * Where everything went.
     *
     * @param kernel the protected-mode kernel's load address
     * @param entry startup_64
     * @param initrd the initrd's address (0 without one)
     * @param initrdSize its size
     * @param e820 the memory map handed over
     */
    public record Layout(long kernel, long entry, long bootParams, long cmdline, long pageTables, long gdt, long initrd,
                         long initrdSize, List<E820.Entry> e820) {
        public Layout { e820 = List.copyOf(e820); }

        /** Puts the vCPU at the 64-bit entry point. */
        public void enter(KvmVcpu vcpu) {
            vcpu.setSregs(LongMode.sregs(vcpu.getSregs(), gdt, pageTables));
            vcpu.setRegs(regs());
        }

        public Regs regs() { return LongMode.regs(entry, bootParams, STACK); }

        public String describe() {
            StringBuilder b = new StringBuilder(String.format("kernel at 0x%x (entry 0x%x), boot_params at 0x%x, command line at 0x%x",
                    kernel, entry, bootParams, cmdline));
            if (initrdSize > 0) b.append(String.format(", initrd [0x%x, 0x%x)", initrd, initrd + initrdSize));
            return b.toString();
        }
    }

    private LinuxLoader() {}

    /** Checks a command line against the kernel's limit without loading anything. */
    public static byte[] cmdline(BzImage kernel, String cmdline) {
        byte[] bytes = (cmdline == null ? "" : cmdline).getBytes(StandardCharsets.UTF_8);
        for (byte c : bytes)
            if (c == 0) throw new BootImageException("the kernel command line contains a NUL byte");
        long max = Math.min(kernel.cmdlineSize(), CMDLINE_END - CMDLINE - 1);
        if (bytes.length > max)
            throw new BootImageException("the kernel command line is " + bytes.length + " bytes; " + kernel.name() + " takes at most " + max
                    + " (cmdline_size)");
        return bytes;
    }

    /**
     * Lays the kernel out in the RAM given and writes it.
     *
     * @param ram the RAM regions (usable memory); @param mmio the MMIO holes (reserved)
     * @param initrd the initrd, or null
     * @throws BootImageException when something does not fit, naming what and where
     */
    public static Layout load(BzImage kernel, byte[] initrd, String cmdline, List<E820.Range> ram, List<E820.Range> mmio,
                              GuestWriter out) {
        byte[] cmd = cmdline(kernel, cmdline);
        List<E820.Entry> e820 = E820.of(ram, mmio);
        List<E820.Entry> usable = e820.stream().filter(e -> e.type() == E820.RAM).sorted(Comparator.comparingLong(E820.Entry::addr)).toList();
        if (!covered(usable, 0, CMDLINE + cmd.length + 1))
            throw new BootImageException("guest RAM must cover [0, 0x" + Long.toHexString(CMDLINE + cmd.length + 1)
                    + ") for boot_params, page tables and the command line");
        long load = kernelAddress(kernel, usable);
        long initrdAt = 0;
        if (initrd != null) initrdAt = initrdAddress(kernel, initrd.length, load, usable);

        out.write(GDT, LongMode.gdt());
        out.write(PAGE_TABLES, LongMode.pageTables(PAGE_TABLES));
        byte[] cmdZ = new byte[cmd.length + 1];
        System.arraycopy(cmd, 0, cmdZ, 0, cmd.length);
        out.write(CMDLINE, cmdZ);
        out.write(load, kernel.kernelBytes());
        if (initrd != null) out.write(initrdAt, initrd);
        out.write(BOOT_PARAMS, bootParams(kernel, e820, CMDLINE, initrdAt, initrd == null ? 0 : initrd.length, load));
        return new Layout(load, load + BzImage.ENTRY_64_OFFSET, BOOT_PARAMS, CMDLINE, PAGE_TABLES, GDT, initrdAt,
                initrd == null ? 0 : initrd.length, e820);
    }

    /** The zero page: the image's setup header, with what the loader fills in, and the e820 map. */
    static byte[] bootParams(BzImage kernel, List<E820.Entry> e820, long cmdline, long initrd, long initrdSize, long load) {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        b.put(BzImage.HEADER_START, kernel.header());
        b.put(0x210, (byte) TYPE_OF_LOADER_UNDEFINED);
        b.putInt(0x214, (int) load);                         // code32_start: where the protected-mode kernel is
        b.putInt(0x218, (int) initrd);                       // ramdisk_image
        b.putInt(0x21c, (int) initrdSize);                   // ramdisk_size
        b.putInt(0x0c0, (int) (initrd >>> 32));              // ext_ramdisk_image
        b.putInt(0x0c4, (int) (initrdSize >>> 32));          // ext_ramdisk_size
        b.putInt(0x228, (int) cmdline);                      // cmd_line_ptr
        b.putInt(0x0c8, (int) (cmdline >>> 32));             // ext_cmd_line_ptr
        b.putLong(0x250, 0);                                 // setup_data: none
        b.put(0x1e8, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            E820.Entry e = e820.get(i);
            b.putLong(0x2d0 + i * 20, e.addr()).putLong(0x2d0 + i * 20 + 8, e.size()).putInt(0x2d0 + i * 20 + 16, e.type());
        }
        return b.array();
    }

    /**
     * The preferred address of a relocatable kernel when [pref, pref + init_size) is RAM, else the lowest
     * {@code kernel_alignment}-aligned address from 1 MiB on where it is; a kernel that is not relocatable goes to 1 MiB.
     */
    static long kernelAddress(BzImage k, List<E820.Entry> usable) {
        List<Long> candidates = new ArrayList<>();
        if (k.relocatable()) {
            long a = k.kernelAlignment();
            if (k.prefAddress() >= HIGH_LOAD && k.prefAddress() % a == 0) candidates.add(k.prefAddress());
            for (E820.Entry e : usable) {
                long at = alignUp(Math.max(e.addr(), HIGH_LOAD), a);
                if (at + k.initSize() <= e.end()) candidates.add(at);
            }
        } else {
            candidates.add(HIGH_LOAD);
        }
        for (long at : candidates) {
            if (at + k.initSize() <= FOUR_GIB && covered(usable, at, at + k.initSize())) return at;
        }
        throw new BootImageException("kernel " + k.name() + " needs 0x" + Long.toHexString(k.initSize()) + " bytes (init_size) of RAM "
                + (k.relocatable() ? "at a 0x" + Long.toHexString(k.kernelAlignment()) + "-aligned address from 1 MiB on below 4 GiB"
                        : "from 1 MiB on") + "; the RAM regions do not have it");
    }

    /**
     * The highest page-aligned place in RAM for the initrd that ends below initrd_addr_max and keeps clear of the
     * kernel's init_size; above 4 GiB only when the kernel says it can take it there and nothing fits below.
     */
    static long initrdAddress(BzImage k, long size, long kernel, List<E820.Entry> usable) {
        long below = Math.min(k.initrdAddrMax() + 1, FOUR_GIB);
        long at = highestFit(size, below, kernel, kernel + k.initSize(), usable);
        if (at < 0 && k.canBeLoadedAbove4G()) at = highestFit(size, Long.MAX_VALUE, kernel, kernel + k.initSize(), usable);
        if (at < 0)
            throw new BootImageException("the initrd of " + size + " bytes does not fit in RAM above the kernel and below 0x"
                    + Long.toHexString(below) + " (initrd_addr_max" + (k.canBeLoadedAbove4G() ? ", nor above 4 GiB" : "") + ")");
        return at;
    }

    private static long highestFit(long size, long limit, long kStart, long kEnd, List<E820.Entry> usable) {
        long best = -1;
        for (E820.Entry e : usable) {
            long top = Math.min(e.end(), limit);
            long at = (top - size) & ~0xfffL;
            if (at >= kEnd || (at + size <= kStart)) {
                // keep clear of the kernel: if the highest place overlaps it, try right below it
            } else {
                at = (kStart - size) & ~0xfffL;
            }
            if (size <= top && at >= Math.max(e.addr(), HIGH_LOAD) && at + size <= top && (at >= kEnd || at + size <= kStart))
                best = Math.max(best, at);
        }
        return best;
    }

    private static boolean covered(List<E820.Entry> usable, long start, long end) {
        for (E820.Entry e : usable) {
            if (e.addr() <= start && end <= e.end()) return true;
        }
        return false;
    }

    static long alignUp(long v, long a) { return (v + a - 1) & -a; }
}
