package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.linux.internal.Structs.KvmDeviceAttr;

/** KVM_GET_DEVICE_ATTR and KVM_HAS_DEVICE_ATTR, the same on /dev/kvm, a VM or a vCPU. */
final class DeviceAttrs {
    private DeviceAttrs() {}

    /** KVM_GET_DEVICE_ATTR with a 64-bit value. */
    static long get(KvmFd fd, DeviceAttr attr) {
        try (Memory s = fill(attr); Memory value = CStruct.allocate(8)) {
            KvmDeviceAttr.ADDR.put(s, com.sun.jna.Pointer.nativeValue(value));
            fd.ioctl("KVM_GET_DEVICE_ATTR", Ioctls.KVM_GET_DEVICE_ATTR, s);
            return value.getLong(0);
        }
    }

    /** KVM_HAS_DEVICE_ATTR: true on 0, false on ENXIO (the attribute does not exist); other errors are thrown. */
    static boolean has(KvmFd fd, DeviceAttr attr) {
        try (Memory s = fill(attr)) {
            int[] r = fd.ioctlRaw(Ioctls.KVM_HAS_DEVICE_ATTR, s);
            if (r[0] == 0) return true;
            if (r[1] == Errno.ENXIO) return false;
            throw new KvmException("KVM_HAS_DEVICE_ATTR", r[1]);
        }
    }

    private static Memory fill(DeviceAttr attr) {
        Memory s = KvmDeviceAttr.T.allocate();
        KvmDeviceAttr.FLAGS.put(s, attr.flags());
        KvmDeviceAttr.GROUP.put(s, attr.group());
        KvmDeviceAttr.ATTR.put(s, attr.attr());
        return s;
    }
}
