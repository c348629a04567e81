package org.janus.machine.internal.x86boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * An x86 Linux bzImage as the boot protocol (Documentation/arch/x86/boot.rst) describes it: a real-mode setup part
 * of {@code setup_sects + 1} sectors whose setup header starts at 0x1f1, followed by the protected-mode kernel.
 * {@link #parse} checks everything a 64-bit direct boot relies on and refuses the rest with one line.
 *
 * @param name the file, for messages
 * @param setupSects sectors of real-mode setup code after the boot sector (0 in the file means 4)
 * @param version the boot protocol version, major in the high byte
 * @param loadflags the header's loadflags
 * @param xloadflags the header's xloadflags
 * @param kernelAlignment the physical alignment a relocatable kernel needs
 * @param relocatable whether the kernel may be loaded at any {@code kernelAlignment}-aligned address
 * @param prefAddress where the kernel prefers to be loaded
 * @param initSize bytes the kernel needs from its load address on, while it decompresses and sets itself up
 * @param initrdAddrMax the highest address the initrd may occupy when it has to stay below 4 GiB
 * @param cmdlineSize the longest command line, without its terminating zero
 * @param header the setup header, {@code [0x1f1, 0x202 + byte at 0x201)} of the file
 * @param kernel the protected-mode kernel
 */
public record BzImage(String name, int setupSects, int version, int loadflags, int xloadflags, long kernelAlignment,
                      boolean relocatable, long prefAddress, long initSize, long initrdAddrMax, long cmdlineSize,
                      byte[] header, byte[] kernel) {
    /** The lowest boot protocol accepted: 2.12 introduced xloadflags, which announce the 64-bit entry point. */
    public static final int MIN_VERSION = 0x020c;
    public static final int HEADER_START = 0x1f1;
    static final int MAGIC = 0x53726448;           // "HdrS" at 0x202
    static final int BOOT_FLAG = 0xaa55;           // at 0x1fe
    public static final int LOADED_HIGH = 0x01;
    public static final int XLF_KERNEL_64 = 0x01;
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
    /** startup_64 lies this far into the protected-mode kernel. */
    public static final long ENTRY_64_OFFSET = 0x200;
    /** The header up to init_size (0x260 + 4) is what this loader reads. */
    private static final int HEADER_NEEDED = 0x264;

    public BzImage {
        header = header.clone();
    }

    @Override public byte[] header() { return header.clone(); }

    /** The kernel bytes themselves, not copied: callers only write them to guest memory. */
    byte[] kernelBytes() { return kernel; }

    @Override public byte[] kernel() { return kernel.clone(); }

    public boolean canBeLoadedAbove4G() { return (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) != 0; }

    /** Version as {@code major.minor}. */
    public String versionText() { return (version >> 8) + "." + String.format("%02d", version & 0xff); }

    @Override public boolean equals(Object o) {
        return o instanceof BzImage b && b.name.equals(name) && Arrays.equals(b.header, header) && Arrays.equals(b.kernel, kernel);
    }

    @Override public int hashCode() { return Arrays.hashCode(header) * 31 + kernel.length; }

    @Override public String toString() {
        return "bzImage " + name + " (protocol " + versionText() + ", " + kernel.length + " bytes of kernel, init_size 0x"
                + Long.toHexString(initSize) + ")";
    }

    /**
     * Checks and splits a bzImage.
     *
     * @throws BootImageException naming the file and the first thing that is wrong with it
     */
    public static BzImage parse(byte[] file, String name) {
        if (file.length < HEADER_NEEDED)
            throw bad(name, "is " + file.length + " bytes, too short for the setup header that ends at 0x" + Integer.toHexString(HEADER_NEEDED)
                    + " (truncated, or not a bzImage)");
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0x202) != MAGIC)
            throw bad(name, "has no \"HdrS\" magic at 0x202: not a Linux bzImage (a vmlinux ELF or a compressed file is not booted directly)");
        if ((b.getShort(0x1fe) & 0xffff) != BOOT_FLAG)
            throw bad(name, "has boot_flag 0x" + Integer.toHexString(b.getShort(0x1fe) & 0xffff) + " at 0x1fe, not 0xaa55");
        int version = b.getShort(0x206) & 0xffff;
        if (version < MIN_VERSION)
            throw bad(name, "speaks boot protocol " + (version >> 8) + "." + String.format("%02d", version & 0xff)
                    + "; the 64-bit direct boot needs 2.12 or later (xloadflags)");
        int loadflags = b.get(0x211) & 0xff;
        if ((loadflags & LOADED_HIGH) == 0)
            throw bad(name, "is a zImage (loadflags without LOADED_HIGH): its kernel wants to be loaded at 0x10000, which is not supported");
        int xloadflags = b.getShort(0x236) & 0xffff;
        if ((xloadflags & XLF_KERNEL_64) == 0)
            throw bad(name, "has no 64-bit entry point (xloadflags without XLF_KERNEL_64): a 32-bit kernel");
        int setupSects = b.get(0x1f1) & 0xff;
        if (setupSects == 0) setupSects = 4;
        long setupBytes = (setupSects + 1L) * 512;
        int headerEnd = 0x202 + (b.get(0x201) & 0xff);
        if (headerEnd < HEADER_NEEDED || headerEnd > setupBytes)
            throw bad(name, "has a setup header ending at 0x" + Integer.toHexString(headerEnd) + ", outside [0x"
                    + Integer.toHexString(HEADER_NEEDED) + ", 0x" + Long.toHexString(setupBytes) + "] (setup_sects " + setupSects + ")");
        if (setupBytes >= file.length)
            throw bad(name, "is " + file.length + " bytes, but its " + setupSects + " setup sectors alone take " + setupBytes
                    + ": truncated");
        long syssize = b.getInt(0x1f4) & 0xffffffffL;
        long kernelBytes = file.length - setupBytes;
        // syssize counts 16-byte paragraphs of the protected-mode part; the build rounds it up.
        if (syssize == 0 || syssize * 16 > kernelBytes + 15)
            throw bad(name, "announces " + syssize * 16 + " bytes of protected-mode kernel (syssize " + syssize + ") but holds "
                    + kernelBytes + ": truncated");
        long alignment = b.getInt(0x230) & 0xffffffffL;
        boolean relocatable = b.get(0x234) != 0;
        if (relocatable && (alignment == 0 || Long.bitCount(alignment) != 1))
            throw bad(name, "is relocatable with kernel_alignment 0x" + Long.toHexString(alignment) + ", not a power of two");
        long pref = b.getLong(0x258);
        long initSize = b.getInt(0x260) & 0xffffffffL;
        if (initSize < kernelBytes)
            throw bad(name, "has init_size 0x" + Long.toHexString(initSize) + ", less than its own kernel of 0x" + Long.toHexString(kernelBytes) + " bytes");
        long initrdMax = b.getInt(0x22c) & 0xffffffffL;
        long cmdlineSize = b.getInt(0x238) & 0xffffffffL;
        byte[] header = Arrays.copyOfRange(file, HEADER_START, headerEnd);
        byte[] kernel = Arrays.copyOfRange(file, (int) setupBytes, file.length);
        return new BzImage(name, setupSects, version, loadflags, xloadflags, alignment, relocatable, pref, initSize, initrdMax,
                cmdlineSize, header, kernel);
    }

    private static BootImageException bad(String name, String what) {
        return new BootImageException("kernel " + name + " " + what);
    }
}
