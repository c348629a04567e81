package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.janus.platform.snp.measure.CpuSignature;

/**
 * The initial VMSA (the encrypted register state, one 4 KiB page per vCPU) that a QEMU-launched SEV-SNP guest's
 * vCPU has when SNP_LAUNCH_FINISH measures it: x86 reset state as QEMU sets it and KVM completes it.
 *
 * <p>Offsets are those of the SEV-ES save area (AMD APM Vol. 2, appendix B, "VMSA layout"; Linux
 * {@code struct sev_es_save_area}). Fields not written stay zero.
 *
 * @param resetEip    where the vCPU starts: CS base from bits 31:16, IP from bits 15:0
 * @param sevFeatures the SEV_FEATURES word (bit 0 SNPActive, ...)
 * @param cpu         the CPU signature, which x86 leaves in RDX at reset
 */
public record Vmsa(long resetEip, long sevFeatures, CpuSignature cpu) {
    public static final int SIZE = 4096;
    /** The architectural reset vector, where the boot processor starts (CS base 0xffff0000, IP 0xfff0). */
    public static final long BSP_RESET_EIP = 0xFFFF_FFF0L;

    // Segment registers: 16 bytes each, {u16 selector, u16 attributes, u32 limit, u64 base}.
    private static final int ES = 0x00;
    private static final int CS = 0x10;
    private static final int SS = 0x20;
    private static final int DS = 0x30;
    private static final int FS = 0x40;
    private static final int GS = 0x50;
    private static final int GDTR = 0x60;
    private static final int LDTR = 0x70;
    private static final int IDTR = 0x80;
    private static final int TR = 0x90;
    private static final int EFER = 0xD0;
    private static final int CR4 = 0x148;
    private static final int CR0 = 0x158;
    private static final int DR7 = 0x160;
    private static final int DR6 = 0x168;
    private static final int RFLAGS = 0x170;
    private static final int RIP = 0x178;
    private static final int G_PAT = 0x268;
    private static final int RDX = 0x310;
    private static final int SEV_FEATURES = 0x3B0;
    private static final int XCR0 = 0x3E8;
    private static final int MXCSR = 0x408;
    private static final int X87_FCW = 0x410;

    // VMCB attribute encoding: type, S, DPL, P in bits 7:0. 0x93 = present read/write data, accessed;
    // 0x9b = present execute/read code, accessed; 0x82 = present LDT; 0x8b = present busy 32-bit TSS.
    private static final short DATA_SEGMENT = 0x93;
    private static final short CODE_SEGMENT = 0x9B;
    private static final short LDT_SEGMENT = 0x82;
    private static final short BUSY_TSS = 0x8B;
    private static final int REAL_MODE_LIMIT = 0xFFFF;
    private static final short RESET_CS_SELECTOR = (short) 0xF000;

    /** EFER.SVME: KVM sets it in every SEV-ES/SNP guest's EFER. */
    private static final long EFER_SVME = 1L << 12;
    /** CR4.MCE: KVM turns on machine-check exceptions in the VMSA. */
    private static final long CR4_MCE = 1L << 6;
    /** CR0.ET, the only CR0 bit set at reset. */
    private static final long CR0_ET = 1L << 4;
    private static final long DR7_RESET = 0x400;
    private static final long DR6_RESET = 0xFFFF_0FF0L;
    /** RFLAGS bit 1 is always set. */
    private static final long RFLAGS_RESET = 0x2;
    /** The PAT MSR at reset (APM Vol. 2, A.3): WB, WT, UC-, UC, repeated. */
    private static final long PAT_RESET = 0x0007_0406_0007_0406L;
    /** XCR0 at reset: x87 state only. */
    private static final long XCR0_RESET = 0x1;
    /** MXCSR as QEMU resets it (all SSE exceptions masked); KVM_SEV_INIT2 carries it into the VMSA. */
    private static final int MXCSR_RESET = 0x1F80;
    /** The x87 control word after FNINIT (APM Vol. 2, 11.5.7); also carried into the VMSA under KVM_SEV_INIT2. */
    private static final short FCW_RESET = 0x037F;

    public static Vmsa bootProcessor(long sevFeatures, CpuSignature cpu) {
        return new Vmsa(BSP_RESET_EIP, sevFeatures, cpu);
    }

    /** An application processor: starts at the SEV-ES reset block's address, not at the reset vector. */
    public static Vmsa applicationProcessor(long apResetEip, long sevFeatures, CpuSignature cpu) {
        return new Vmsa(apResetEip, sevFeatures, cpu);
    }

    public byte[] toPage() {
        ByteBuffer page = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        segment(page, ES, (short) 0, DATA_SEGMENT, REAL_MODE_LIMIT, 0);
        segment(page, CS, RESET_CS_SELECTOR, CODE_SEGMENT, REAL_MODE_LIMIT, resetEip & 0xFFFF_0000L);
        segment(page, SS, (short) 0, DATA_SEGMENT, REAL_MODE_LIMIT, 0);
        segment(page, DS, (short) 0, DATA_SEGMENT, REAL_MODE_LIMIT, 0);
        segment(page, FS, (short) 0, DATA_SEGMENT, REAL_MODE_LIMIT, 0);
        segment(page, GS, (short) 0, DATA_SEGMENT, REAL_MODE_LIMIT, 0);
        segment(page, GDTR, (short) 0, (short) 0, REAL_MODE_LIMIT, 0);
        segment(page, LDTR, (short) 0, LDT_SEGMENT, REAL_MODE_LIMIT, 0);
        segment(page, IDTR, (short) 0, (short) 0, REAL_MODE_LIMIT, 0);
        segment(page, TR, (short) 0, BUSY_TSS, REAL_MODE_LIMIT, 0);
        page.putLong(EFER, EFER_SVME);
        page.putLong(CR4, CR4_MCE);
        page.putLong(CR0, CR0_ET);
        page.putLong(DR7, DR7_RESET);
        page.putLong(DR6, DR6_RESET);
        page.putLong(RFLAGS, RFLAGS_RESET);
        page.putLong(RIP, resetEip & 0xFFFF);
        page.putLong(G_PAT, PAT_RESET);
        page.putLong(RDX, Integer.toUnsignedLong(cpu.eax()));
        page.putLong(SEV_FEATURES, sevFeatures);
        page.putLong(XCR0, XCR0_RESET);
        page.putInt(MXCSR, MXCSR_RESET);
        page.putShort(X87_FCW, FCW_RESET);
        return page.array();
    }

    private static void segment(ByteBuffer page, int at, short selector, short attributes, int limit, long base) {
        page.putShort(at, selector).putShort(at + 2, attributes).putInt(at + 4, limit).putLong(at + 8, base);
    }
}
