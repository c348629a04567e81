package org.janus.kvm.sim.internal;

import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;

/**
 * The VMSA page KVM hands to the SEV firmware for one vCPU at SNP_LAUNCH_FINISH, built as KVM builds it
 * (sev_es_sync_vmsa): the VMCB save area as KVM_SET_SREGS left it, the general-purpose registers of KVM_SET_REGS,
 * the state KVM itself gives a vCPU at reset (debug registers, PAT, XCR0, the x87/SSE control words that
 * KVM_SEV_INIT2 carries into the VMSA), and the VM's SEV_FEATURES. Everything else of a reset vCPU is zero.
 *
 * <p>Layout: the SEV-ES save area (AMD APM Vol. 2, table "VMSA Layout, State Save Area for SEV-ES"). This is the
 * software KVM's own rendering of those facts, written apart from the SNP platform's, so that the two check each
 * other through the launch digest.
 */
final class InitialVmsa {
    static final int SIZE = 4096;

    // Segment registers, 16 bytes each: u16 selector, u16 attrib, u32 limit, u64 base.
    private static final int SEG_ES = 0x000;
    private static final int SEG_CS = 0x010;
    private static final int SEG_SS = 0x020;
    private static final int SEG_DS = 0x030;
    private static final int SEG_FS = 0x040;
    private static final int SEG_GS = 0x050;
    private static final int SEG_GDTR = 0x060;
    private static final int SEG_LDTR = 0x070;
    private static final int SEG_IDTR = 0x080;
    private static final int SEG_TR = 0x090;
    private static final int CPL = 0x0CB;
    private static final int EFER = 0x0D0;
    private static final int CR4 = 0x148;
    private static final int CR3 = 0x150;
    private static final int CR0 = 0x158;
    private static final int DR7 = 0x160;
    private static final int DR6 = 0x168;
    private static final int RFLAGS = 0x170;
    private static final int RIP = 0x178;
    private static final int RSP = 0x1D8;
    private static final int RAX = 0x1F8;
    private static final int CR2 = 0x240;
    private static final int G_PAT = 0x268;
    private static final int RCX = 0x308;
    private static final int RDX = 0x310;
    private static final int RBX = 0x318;
    private static final int RBP = 0x328;
    private static final int RSI = 0x330;
    private static final int RDI = 0x338;
    private static final int R8 = 0x340;
    private static final int SEV_FEATURES = 0x3B0;
    private static final int XCR0 = 0x3E8;
    private static final int MXCSR = 0x408;
    private static final int X87_FCW = 0x410;

    /** KVM runs every SVM guest with EFER.SVME set in the VMCB (svm_set_efer). */
    private static final long EFER_SVME = 1L << 12;
    /** svm_set_cr4 adds the host's CR4.MCE, which every Linux host has on. */
    private static final long CR4_MCE = 1L << 6;
    /** KVM_X86_QUIRK_CD_NW_CLEARED (on by default): CR0.CD and CR0.NW never reach the hardware CR0. */
    private static final long CR0_CD_NW = (1L << 30) | (1L << 29);
    /** kvm_vcpu_reset: DR7 = DR7_FIXED_1, DR6 = DR6_ACTIVE_LOW. */
    private static final long DR7_AT_RESET = 0x400;
    private static final long DR6_AT_RESET = 0xFFFF0FF0L;
    /** MSR_IA32_CR_PAT at reset (MSR_IA32_CR_PAT_DEFAULT). */
    private static final long PAT_AT_RESET = 0x0007040600070406L;
    /** XCR0 at reset: x87 only. */
    private static final long XCR0_AT_RESET = 1;
    /** fpstate_init: MXCSR_DEFAULT and the FNINIT control word. */
    private static final int MXCSR_AT_RESET = 0x1F80;
    private static final short FCW_AT_RESET = 0x037F;

    private InitialVmsa() {
    }

    /** The page of a vCPU whose state userspace set to {@code regs} and {@code sregs}, in a VM with {@code sevFeatures}. */
    static byte[] page(Regs regs, Sregs sregs, long sevFeatures) {
        byte[] p = new byte[SIZE];
        segment(p, SEG_ES, sregs.es());
        segment(p, SEG_CS, sregs.cs());
        segment(p, SEG_SS, sregs.ss());
        segment(p, SEG_DS, sregs.ds());
        segment(p, SEG_FS, sregs.fs());
        segment(p, SEG_GS, sregs.gs());
        table(p, SEG_GDTR, sregs.gdt());
        segment(p, SEG_LDTR, sregs.ldt());
        table(p, SEG_IDTR, sregs.idt());
        segment(p, SEG_TR, sregs.tr());
        // svm_set_segment records SS.DPL as the CPL.
        p[CPL] = (byte) (sregs.ss().dpl() & 3);
        u64(p, EFER, sregs.efer() | EFER_SVME);
        u64(p, CR4, sregs.cr4() | CR4_MCE);
        u64(p, CR3, sregs.cr3());
        u64(p, CR0, sregs.cr0() & ~CR0_CD_NW);
        u64(p, DR7, DR7_AT_RESET);
        u64(p, DR6, DR6_AT_RESET);
        u64(p, RFLAGS, regs.rflags());
        u64(p, RIP, regs.rip());
        u64(p, RSP, regs.rsp());
        u64(p, RAX, regs.rax());
        u64(p, CR2, sregs.cr2());
        u64(p, G_PAT, PAT_AT_RESET);
        u64(p, RCX, regs.rcx());
        u64(p, RDX, regs.rdx());
        u64(p, RBX, regs.rbx());
        u64(p, RBP, regs.rbp());
        u64(p, RSI, regs.rsi());
        u64(p, RDI, regs.rdi());
        long[] high = {regs.r8(), regs.r9(), regs.r10(), regs.r11(), regs.r12(), regs.r13(), regs.r14(), regs.r15()};
        for (int i = 0; i < high.length; i++) u64(p, R8 + 8 * i, high[i]);
        u64(p, SEV_FEATURES, sevFeatures);
        u64(p, XCR0, XCR0_AT_RESET);
        u32(p, MXCSR, MXCSR_AT_RESET);
        u16(p, X87_FCW, FCW_AT_RESET);
        return p;
    }

    /** kvm_segment to the VMCB encoding (svm_set_segment): type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, DB 10, G 11. */
    private static void segment(byte[] p, int at, Sregs.Segment s) {
        int attrib = (s.type() & 0xF) | (s.s() & 1) << 4 | (s.dpl() & 3) << 5
                | ((s.present() & 1) != 0 && s.unusable() == 0 ? 1 : 0) << 7
                | (s.avl() & 1) << 8 | (s.l() & 1) << 9 | (s.db() & 1) << 10 | (s.g() & 1) << 11;
        u16(p, at, (short) s.selector());
        u16(p, at + 2, (short) attrib);
        u32(p, at + 4, s.limit());
        u64(p, at + 8, s.base());
    }

    /** GDTR and IDTR carry only base and limit (svm_set_gdt, svm_set_idt). */
    private static void table(byte[] p, int at, Sregs.DTable t) {
        u32(p, at + 4, t.limit());
        u64(p, at + 8, t.base());
    }

    private static void u16(byte[] p, int at, short v) {
        p[at] = (byte) v;
        p[at + 1] = (byte) (v >>> 8);
    }

    private static void u32(byte[] p, int at, int v) {
        for (int i = 0; i < 4; i++) p[at + i] = (byte) (v >>> (8 * i));
    }

    private static void u64(byte[] p, int at, long v) {
        for (int i = 0; i < 8; i++) p[at + i] = (byte) (v >>> (8 * i));
    }
}
