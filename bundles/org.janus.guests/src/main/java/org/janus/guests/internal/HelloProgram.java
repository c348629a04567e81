package org.janus.guests.internal;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;

/**
 * Writes "hello from vcpu N" into guest RAM (a page per vCPU), reads it back, prints it on the console
 * ({@code repeat} times) and halts (on arm64: turns itself off, and vCPU 0 the system once the others are off). The
 * round trip through RAM makes even the smallest guest touch the memory the machine built; a large {@code repeat}
 * makes a long stream of exits without a single conversion. On SEV-SNP and TDX each vCPU first takes its page into
 * use (PVALIDATE; TDG.MEM.PAGE.ACCEPT), as firmware does with RAM before a kernel runs.
 */
final class HelloProgram implements GuestProgram {
    private final GuestProgramContext context;
    private final long repeat;

    HelloProgram(GuestProgramContext context) { this(context, 1); }

    HelloProgram(GuestProgramContext context, long repeat) {
        this.context = context;
        this.repeat = repeat;
    }

    /** Where vCPU {@code vcpu} writes its line: a page each from the start of the first RAM region. */
    static long slotOf(GuestProgramContext context, int vcpu) {
        var first = context.ram().get(0);
        return first.gpa() + (GuestOps.PAGE * vcpu) % first.size();
    }

    @Override public void run(GuestCpu cpu) {
        byte[] line = ("hello from vcpu " + cpu.vcpuId() + "\n").getBytes(StandardCharsets.US_ASCII);
        long at = slotOf(context, cpu.vcpuId());
        GuestOps.ensureUsable(cpu, context, at, GuestOps.PAGE, "hello: vcpu " + cpu.vcpuId());
        cpu.write(at, line);
        byte[] back = cpu.read(at, line.length);
        if (!Arrays.equals(line, back))
            throw new IllegalStateException("hello: vcpu " + cpu.vcpuId() + " wrote '" + new String(line, StandardCharsets.US_ASCII).trim()
                    + "' at 0x" + Long.toHexString(at) + " and read back " + Arrays.toString(back));
        for (long r = 0; r < repeat; r++) GuestOps.console(cpu, context, back);
        GuestOps.finish(cpu, context);
    }
}
