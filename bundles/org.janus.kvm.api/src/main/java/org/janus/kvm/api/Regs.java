package org.janus.kvm.api;

/** struct kvm_regs (x86_64): the general-purpose registers, rip and rflags. */
public record Regs(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                   long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                   long rip, long rflags) {
    /** All zero except rflags bit 1, which is always set on x86. */
    public static Regs reset() {
        return new Regs(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfff0, 0x2);
    }

    public Regs withRip(long newRip) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, newRip, rflags);
    }
}
