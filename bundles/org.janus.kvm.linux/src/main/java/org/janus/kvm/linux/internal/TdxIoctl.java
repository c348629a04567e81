package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.TdxCommand;
import org.janus.kvm.linux.internal.Structs.KvmTdxCmd;

/** KVM_MEMORY_ENCRYPT_OP with a struct kvm_tdx_cmd, on a VM fd or a vCPU fd (the kernel routes both to the TDX code). */
final class TdxIoctl {
    private TdxIoctl() {}

    /**
     * Issues {@code command} on {@code fd}: its struct (if any) is copied to native memory, passed by pointer and
     * copied back afterwards, also when the ioctl fails (INIT_MEM_REGION reports its progress that way).
     *
     * @return kvm_tdx_cmd.hw_error
     */
    static long issue(KvmFd fd, TdxCommand command) {
        byte[] data = command.data();
        boolean hasData = data != null && data.length > 0;
        try (Memory cmd = KvmTdxCmd.T.allocate(); Memory buf = hasData ? new Memory(data.length) : null) {
            if (hasData) buf.write(0, data, 0, data.length);
            KvmTdxCmd.ID.put(cmd, command.id());
            KvmTdxCmd.FLAGS.put(cmd, command.flags());
            KvmTdxCmd.DATA.put(cmd, hasData ? Pointer.nativeValue(buf) : command.value());
            int[] r = fd.ioctlRaw(Ioctls.KVM_MEMORY_ENCRYPT_OP, cmd);
            if (hasData) buf.read(0, data, 0, data.length);
            long hwError = KvmTdxCmd.HW_ERROR.get(cmd);
            if (r[0] == -1) throw new KvmException("KVM_MEMORY_ENCRYPT_OP", r[1], KvmException.NONE, hwError,
                    TdxCommand.name(command.id()));
            return hwError;
        }
    }
}
