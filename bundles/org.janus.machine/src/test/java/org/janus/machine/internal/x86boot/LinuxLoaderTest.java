package org.janus.machine.internal.x86boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.junit.jupiter.api.Test;

class LinuxLoaderTest {
    private static final long MIB = 1 << 20;

    /** Guest memory as the writes left it: what the loader wrote, where; the rest reads zero. */
    static final class Memory implements LinuxLoader.GuestWriter {
        final TreeMap<Long, byte[]> writes = new TreeMap<>();

        @Override public void write(long gpa, byte[] data) { writes.put(gpa, data.clone()); }

        byte[] read(long gpa, int length) {
            byte[] out = new byte[length];
            for (var w : writes.entrySet()) {
                long start = Math.max(gpa, w.getKey()), end = Math.min(gpa + length, w.getKey() + w.getValue().length);
                for (long a = start; a < end; a++) out[(int) (a - gpa)] = w.getValue()[(int) (a - w.getKey())];
            }
            return out;
        }

        ByteBuffer le(long gpa, int length) { return ByteBuffer.wrap(read(gpa, length)).order(ByteOrder.LITTLE_ENDIAN); }
    }

    private static final List<E820.Range> RAM_512M = List.of(new E820.Range(0, 512 * MIB));
    private static final List<E820.Range> IOAPIC = List.of(new E820.Range(0xfec00000L, 0xfec01000L));

    @Test void bootParamsAnnounceEverythingTheKernelNeeds() {
        SyntheticBzImage s = new SyntheticBzImage();
        BzImage k = BzImage.parse(s.build(), "k");
        Memory m = new Memory();
        byte[] initrd = new byte[3 * 4096 + 17];
        Arrays.fill(initrd, (byte) 0x5a);
        LinuxLoader.Layout l = LinuxLoader.load(k, initrd, "console=ttyS0 panic=-1", RAM_512M, IOAPIC, m);

        assertEquals(0x1000000, l.kernel(), "a relocatable kernel goes to its pref_address");
        assertEquals(0x1000200, l.entry(), "startup_64 is 0x200 into the protected-mode kernel");
        assertArrayEquals(k.kernel(), m.read(l.kernel(), k.kernel().length));

        ByteBuffer bp = m.le(l.bootParams(), 4096);
        assertEquals(0xff, bp.get(0x210) & 0xff, "type_of_loader: undefined");
        assertEquals("HdrS", new String(m.read(l.bootParams() + 0x202, 4), StandardCharsets.US_ASCII), "the setup header is copied");
        assertEquals(l.cmdline(), bp.getInt(0x228) & 0xffffffffL);
        assertEquals("console=ttyS0 panic=-1", new String(m.read(l.cmdline(), 22), StandardCharsets.US_ASCII));
        assertEquals(0, m.read(l.cmdline() + 22, 1)[0], "the command line ends with a NUL");
        assertEquals(l.initrd(), bp.getInt(0x218) & 0xffffffffL);
        assertEquals(initrd.length, bp.getInt(0x21c));
        assertEquals(0, bp.getInt(0x0c0), "ext_ramdisk_image: below 4 GiB");
        assertArrayEquals(initrd, m.read(l.initrd(), initrd.length));

        int entries = bp.get(0x1e8) & 0xff;
        assertEquals(4, entries);
        long[][] want = {{0, 0xa0000, E820.RAM}, {0xa0000, 0x60000, E820.RESERVED}, {0x100000, 511 * MIB, E820.RAM},
                {0xfec00000L, 0x1000, E820.RESERVED}};
        for (int i = 0; i < entries; i++) {
            assertEquals(want[i][0], bp.getLong(0x2d0 + i * 20), "e820[" + i + "].addr");
            assertEquals(want[i][1], bp.getLong(0x2d0 + i * 20 + 8), "e820[" + i + "].size");
            assertEquals(want[i][2], bp.getInt(0x2d0 + i * 20 + 16), "e820[" + i + "].type");
        }
    }

    @Test void theInitrdGoesHighButBelowItsLimitAndClearOfTheKernel() {
        SyntheticBzImage s = new SyntheticBzImage();
        s.initrdAddrMax = 256 * MIB - 1;
        s.xloadflags = BzImage.XLF_KERNEL_64;
        BzImage k = BzImage.parse(s.build(), "k");
        Memory m = new Memory();
        LinuxLoader.Layout l = LinuxLoader.load(k, new byte[MiB(3)], "", RAM_512M, List.of(), m);
        assertEquals(256 * MIB - 3 * MIB, l.initrd(), "the highest page-aligned place ending at initrd_addr_max");
        assertEquals(0, l.initrd() % 4096);

        // RAM that ends inside the kernel's init_size window below the initrd limit: the initrd goes below the kernel.
        LinuxLoader.Layout low = LinuxLoader.load(k, new byte[MiB(3)], "", List.of(new E820.Range(0, 0x1000000 + 0x800000)), List.of(), m);
        assertTrue(low.initrd() + 3 * MIB <= low.kernel(), "initrd " + Long.toHexString(low.initrd()) + " overlaps the kernel");
        assertTrue(low.initrd() >= 0x100000);
    }

    @Test void whatDoesNotFitIsOneLineNamingIt() {
        BzImage k = BzImage.parse(new SyntheticBzImage().build(), "k");
        Memory m = new Memory();
        BootImageException big = assertThrows(BootImageException.class,
                () -> LinuxLoader.load(k, new byte[MiB(600)], "", RAM_512M, List.of(), m));
        assertTrue(big.getMessage().startsWith("the initrd of " + 600 * MIB + " bytes does not fit in RAM"), big.getMessage());
        BootImageException small = assertThrows(BootImageException.class,
                () -> LinuxLoader.load(k, null, "", List.of(new E820.Range(0, 8 * MIB)), List.of(), m));
        assertTrue(small.getMessage().contains("needs 0x800000 bytes (init_size) of RAM"), small.getMessage());
        BootImageException lowless = assertThrows(BootImageException.class,
                () -> LinuxLoader.load(k, null, "", List.of(new E820.Range(MIB, 512 * MIB)), List.of(), m));
        assertTrue(lowless.getMessage().startsWith("guest RAM must cover [0, "), lowless.getMessage());
        BootImageException nul = assertThrows(BootImageException.class, () -> LinuxLoader.cmdline(k, "a\0b"));
        assertTrue(nul.getMessage().contains("NUL"));
        assertTrue(m.writes.isEmpty(), "nothing is written when the layout does not work out");
    }

    @Test void aKernelThatIsNotRelocatableGoesToOneMiB() {
        SyntheticBzImage s = new SyntheticBzImage();
        s.relocatable = false;
        LinuxLoader.Layout l = LinuxLoader.load(BzImage.parse(s.build(), "k"), null, "", RAM_512M, List.of(), new Memory());
        assertEquals(0x100000, l.kernel());
        assertEquals(0, l.initrd());
        assertEquals(0, l.initrdSize());
    }

    @Test void aRelocatableKernelWithoutRoomAtItsPreferredAddressGoesLower() {
        SyntheticBzImage s = new SyntheticBzImage();
        LinuxLoader.Layout l = LinuxLoader.load(BzImage.parse(s.build(), "k"), null, "", List.of(new E820.Range(0, 16 * MIB)), List.of(),
                new Memory());
        assertEquals(0x200000, l.kernel(), "the lowest 2 MiB-aligned address from 1 MiB on");
    }

    @Test void pageTablesMapTheFirstFourGiBOneToOne() {
        Memory m = new Memory();
        LinuxLoader.Layout l = LinuxLoader.load(BzImage.parse(new SyntheticBzImage().build(), "k"), null, "", RAM_512M, List.of(), m);
        ByteBuffer pt = m.le(l.pageTables(), LongMode.pageTableBytes());
        long pdpt = pt.getLong(0) & ~0xfffL;
        assertEquals(l.pageTables() + 4096, pdpt);
        for (long va : new long[] {0, 0x1000200, 0x7000, 0xfec00000L, (4L << 30) - 1}) {
            long pdptEntry = pt.getLong((int) (pdpt - l.pageTables()) + (int) ((va >>> 30) & 511) * 8);
            long pd = pdptEntry & ~0xfffL;
            long pde = pt.getLong((int) (pd - l.pageTables()) + (int) ((va >>> 21) & 511) * 8);
            assertEquals(LongMode.PTE_P | LongMode.PTE_RW | LongMode.PTE_PS, pde & 0xfff, "a present, writable 2 MiB page");
            assertEquals(va & ~((2L << 20) - 1), pde & ~0xfffL, "identity for 0x" + Long.toHexString(va));
        }
    }

    @Test void theVcpuEntersLongModeAtStartup64WithRsiOnBootParams() {
        Memory m = new Memory();
        LinuxLoader.Layout l = LinuxLoader.load(BzImage.parse(new SyntheticBzImage().build(), "k"), null, "", RAM_512M, List.of(), m);
        Sregs.Segment zero = new Sregs.Segment(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        Sregs before = new Sregs(zero, zero, zero, zero, zero, zero, zero, zero, new Sregs.DTable(0, 0), new Sregs.DTable(0, 0),
                0x60000010, 0, 0, 0, 0, 0, 0xfee00900L, new long[4]);
        Sregs s = LongMode.sregs(before, l.gdt(), l.pageTables());
        assertEquals(LongMode.CR0_PE | LongMode.CR0_PG, s.cr0() & (LongMode.CR0_PE | LongMode.CR0_PG));
        assertEquals(LongMode.CR4_PAE, s.cr4() & LongMode.CR4_PAE);
        assertEquals(LongMode.EFER_LME | LongMode.EFER_LMA, s.efer());
        assertEquals(l.pageTables(), s.cr3());
        assertEquals(0xfee00900L, s.apicBase(), "KVM's APIC base is kept");
        assertEquals(LongMode.BOOT_CS, s.cs().selector());
        assertEquals(1, s.cs().l(), "64-bit code");
        assertEquals(LongMode.BOOT_DS, s.ds().selector());
        assertEquals(LongMode.BOOT_DS, s.ss().selector());
        ByteBuffer gdt = m.le(l.gdt(), 40);
        assertEquals(0x00af9b000000ffffL, gdt.getLong(LongMode.BOOT_CS), "__BOOT_CS: 64-bit code");
        assertEquals(0x00cf93000000ffffL, gdt.getLong(LongMode.BOOT_DS), "__BOOT_DS: flat data");
        Regs r = l.regs();
        assertEquals(l.entry(), r.rip());
        assertEquals(l.bootParams(), r.rsi());
        assertEquals(0, r.rflags() & 0x200, "interrupts off");
    }

    @Test void cpuidTellsEachVcpuItsApicIdAndThatItRunsUnderAHypervisor() {
        List<CpuidEntry> supported = List.of(new CpuidEntry(0, 0, 0, 0xd, 0, 0, 0), new CpuidEntry(1, 0, 0, 0xa00f11, 0x00ff0800, 0x7ed8320b, 0x178bfbff),
                new CpuidEntry(0xb, 1, 1, 1, 2, 0x201, 0));
        List<CpuidEntry> out = GuestCpuid.forVcpu(supported, 3, 4);
        CpuidEntry leaf1 = out.get(1);
        assertEquals(3, leaf1.ebx() >>> 24, "initial APIC ID");
        assertEquals(4, (leaf1.ebx() >>> 16) & 0xff, "logical processors");
        assertEquals(0x0800, leaf1.ebx() & 0xffff, "CLFLUSH size kept");
        assertTrue(leaf1.ecx() < 0, "hypervisor bit");
        assertEquals(3, out.get(2).edx(), "x2APIC ID");
        assertEquals(supported.get(0), out.get(0));
    }

    private static int MiB(int n) { return n << 20; }
}
