package org.janus.kvm.conformance;

import java.io.ByteArrayOutputStream;

/**
 * A tiny x86 assembler for 16-bit real-mode guests: just the instructions the conformance guests use, encoded by
 * hand (0x66 selects 32-bit operands). Real mode needs no page tables, so guest virtual = physical = seg*16+offset.
 */
public final class RealModeCode {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private boolean usesHypercall;

    private RealModeCode bytes(int... b) {
        for (int x : b) out.write(x);
        return this;
    }

    private RealModeCode imm16(int v) { return bytes(v & 0xff, (v >>> 8) & 0xff); }

    private RealModeCode imm32(long v) { return bytes((int) v & 0xff, (int) (v >>> 8) & 0xff, (int) (v >>> 16) & 0xff, (int) (v >>> 24) & 0xff); }

    public RealModeCode movEax(long v) { return bytes(0x66, 0xb8).imm32(v); }

    public RealModeCode movEbx(long v) { return bytes(0x66, 0xbb).imm32(v); }

    public RealModeCode movEcx(long v) { return bytes(0x66, 0xb9).imm32(v); }

    public RealModeCode movEdx(long v) { return bytes(0x66, 0xba).imm32(v); }

    public RealModeCode movAx(int v) { return bytes(0xb8).imm16(v); }

    public RealModeCode movCx(int v) { return bytes(0xb9).imm16(v); }

    public RealModeCode movDx(int v) { return bytes(0xba).imm16(v); }

    public RealModeCode movDi(int v) { return bytes(0xbf).imm16(v); }

    public RealModeCode movDsAx() { return bytes(0x8e, 0xd8); }

    public RealModeCode movEsAx() { return bytes(0x8e, 0xc0); }

    /** mov eax, [ds:offset] */
    public RealModeCode loadEax(int offset) { return bytes(0x66, 0xa1).imm16(offset); }

    /** out dx, eax */
    public RealModeCode outDxEax() { return bytes(0x66, 0xef); }

    public RealModeCode cld() { return bytes(0xfc); }

    /** rep stosd: store eax at es:di, cx times. */
    public RealModeCode repStosd() { return bytes(0xf3, 0x66, 0xab); }

    /** AMD's hypercall instruction; KVM on Intel emulates it (and may patch it to vmcall). */
    public RealModeCode vmmcall() {
        usesHypercall = true;
        return bytes(0x0f, 0x01, 0xd9);
    }

    /** Whether the code issues a hypercall, which not every KVM backend can execute for a real-mode guest. */
    public boolean usesHypercall() { return usesHypercall; }

    public RealModeCode hlt() { return bytes(0xf4); }

    // ---- the conformance guests' idioms ----

    /** Both data segment registers at {@code base} (a multiple of 16, below 1 MiB). */
    public RealModeCode dataSegments(long base) { return movAx((int) (base >>> 4)).movDsAx().movEsAx().cld(); }

    /** KVM hypercall: rax = nr, rbx/rcx/rdx = a0..a2; the result comes back in eax. */
    public RealModeCode hypercall(long nr, long a0, long a1, long a2) {
        return movEax(nr).movEbx(a0).movEcx(a1).movEdx(a2).vmmcall();
    }

    /** out port, eax (4 bytes). */
    public RealModeCode outEax(int port) { return movDx(port).outDxEax(); }

    /** out port, value (4 bytes). */
    public RealModeCode out(int port, long value) { return movEax(value).outEax(port); }

    /** Fills {@code dwords} dwords from es:offset with {@code pattern}. */
    public RealModeCode fill(int offset, int dwords, long pattern) { return movEax(pattern).movDi(offset).movCx(dwords).repStosd(); }

    public byte[] toBytes() { return out.toByteArray(); }
}
