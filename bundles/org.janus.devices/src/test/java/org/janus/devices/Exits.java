package org.janus.devices;

import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.VcpuExit;

/** Port I/O exits as KVM decodes them, for the tests. */
final class Exits {
    private Exits() {}

    static VcpuExit.Io out(int port, int size, long value) {
        byte[] data = new byte[size];
        IoBus.putLittleEndian(data, 0, size, value);
        return new VcpuExit.Io(ExitReason.IO_OUT, size, port, 1, data);
    }

    static VcpuExit.Io outs(int port, int size, byte[] data) {
        return new VcpuExit.Io(ExitReason.IO_OUT, size, port, data.length / size, data);
    }

    static VcpuExit.Io in(int port, int size) { return ins(port, size, 1); }

    static VcpuExit.Io ins(int port, int size, int count) {
        return new VcpuExit.Io(ExitReason.IO_IN, size, port, count, new byte[0]);
    }

    /** The value of a one-element IN. */
    static long value(byte[] in) { return IoBus.littleEndian(in, 0, in.length); }
}
