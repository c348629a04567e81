package org.janus.platform.snp.internal;

import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.platform.snp.measure.CpuSignature;

/**
 * The register state a QEMU-launched SEV-SNP vCPU has when SNP_LAUNCH_FINISH measures it: x86 reset
 * (QEMU's x86_cpu_reset: real mode, CS 0xf000 based at 0xffff0000, the CPU signature in RDX), with application
 * processors moved to the SEV-ES reset block's address (QEMU's sev_es_set_reset_vector). KVM turns this state
 * into the VMSA page that {@link Vmsa} describes; the launch digest only matches if the two agree.
 */
final class SnpVcpuReset {
    /** Type of a present, accessed, read/write data segment (kvm_segment.type). */
    private static final int DATA_TYPE = 3;
    /** Type of a present, accessed, execute/read code segment; also the busy 32-bit TSS type for TR. */
    private static final int CODE_TYPE = 11;
    private static final int LDT_TYPE = 2;
    private static final int REAL_MODE_LIMIT = 0xFFFF;
    private static final int RESET_CS = 0xF000;
    /** CR0 at reset: CD, NW, ET. */
    private static final long CR0_RESET = 0x60000010L;
    /** IA32_APIC_BASE at reset: the default base with the global enable bit, plus BSP for vCPU 0. */
    private static final long APIC_BASE = 0xFEE00000L | 1L << 11;
    private static final long APIC_BSP = 1L << 8;
    private static final long RFLAGS_RESET = 0x2;

    private SnpVcpuReset() {
    }

    /** @param resetEip where the vCPU starts: CS base from bits 31:16, IP from bits 15:0 */
    static Regs regs(long resetEip, CpuSignature cpu) {
        return new Regs(0, 0, 0, Integer.toUnsignedLong(cpu.eax()), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                resetEip & 0xFFFF, RFLAGS_RESET);
    }

    static Sregs sregs(long resetEip, boolean bootProcessor) {
        Sregs.Segment cs = new Sregs.Segment(resetEip & 0xFFFF_0000L, REAL_MODE_LIMIT, RESET_CS, CODE_TYPE, 1, 0, 0, 1, 0, 0, 0, 0);
        Sregs.Segment data = new Sregs.Segment(0, REAL_MODE_LIMIT, 0, DATA_TYPE, 1, 0, 0, 1, 0, 0, 0, 0);
        Sregs.Segment tr = new Sregs.Segment(0, REAL_MODE_LIMIT, 0, CODE_TYPE, 1, 0, 0, 0, 0, 0, 0, 0);
        Sregs.Segment ldt = new Sregs.Segment(0, REAL_MODE_LIMIT, 0, LDT_TYPE, 1, 0, 0, 0, 0, 0, 0, 0);
        Sregs.DTable table = new Sregs.DTable(0, REAL_MODE_LIMIT);
        return new Sregs(cs, data, data, data, data, data, tr, ldt, table, table, CR0_RESET, 0, 0, 0, 0, 0,
                APIC_BASE | (bootProcessor ? APIC_BSP : 0), new long[4]);
    }
}
