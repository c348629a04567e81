package org.janus.machine.internal.x86boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Builds bzImages in memory, header field by header field, as boot.rst lays them out. */
final class SyntheticBzImage {
    int setupSects = 2;
    int version = 0x020f;
    int loadflags = BzImage.LOADED_HIGH;
    int xloadflags = BzImage.XLF_KERNEL_64 | BzImage.XLF_CAN_BE_LOADED_ABOVE_4G;
    long kernelAlignment = 0x200000;
    boolean relocatable = true;
    long prefAddress = 0x1000000;
    long initSize = 0x800000;
    long initrdAddrMax = 0x7fffffff;
    long cmdlineSize = 2047;
    int kernelBytes = 64 * 1024;
    int headerLength = 0x268 - 0x202;   // the byte at 0x201: the setup header's length past 0x202
    int magic = 0x53726448;
    int bootFlag = 0xaa55;
    Integer syssizeOverride;

    byte[] build() {
        int setup = ((setupSects == 0 ? 4 : setupSects) + 1) * 512;   // 0 in the header means 4
        ByteBuffer b = ByteBuffer.allocate(setup + kernelBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) setupSects);
        b.putInt(0x1f4, syssizeOverride != null ? syssizeOverride : (kernelBytes + 15) / 16);
        b.putShort(0x1fe, (short) bootFlag);
        b.put(0x200, (byte) 0xeb).put(0x201, (byte) headerLength);
        b.putInt(0x202, magic);
        b.putShort(0x206, (short) version);
        b.put(0x211, (byte) loadflags);
        b.putInt(0x214, 0x100000);
        b.putInt(0x22c, (int) initrdAddrMax);
        b.putInt(0x230, (int) kernelAlignment);
        b.put(0x234, (byte) (relocatable ? 1 : 0));
        b.putShort(0x236, (short) xloadflags);
        b.putInt(0x238, (int) cmdlineSize);
        b.putLong(0x258, prefAddress);
        b.putInt(0x260, (int) initSize);
        // The kernel: a recognisable pattern, so that tests can find where it landed.
        for (int i = 0; i < kernelBytes; i++) b.put(setup + i, (byte) (i * 7 + 1));
        return b.array();
    }
}
