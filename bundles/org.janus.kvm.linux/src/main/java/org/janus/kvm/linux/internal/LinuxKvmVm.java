package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemoryFile;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VmType;
import org.janus.kvm.libc.FdMemoryFile;
import org.janus.kvm.libc.LibC;
import org.janus.kvm.libc.Sys;
import org.janus.kvm.linux.internal.Structs.KvmCreateGuestMemfd;
import org.janus.kvm.linux.internal.Structs.KvmEnableCap;
import org.janus.kvm.linux.internal.Structs.KvmIrqLevel;
import org.janus.kvm.linux.internal.Structs.KvmMemoryAttributes;
import org.janus.kvm.linux.internal.Structs.KvmMemoryAttributes2;
import org.janus.kvm.linux.internal.Structs.KvmPitConfig;
import org.janus.kvm.linux.internal.Structs.KvmSevCmd;
import org.janus.kvm.linux.internal.Structs.KvmUserspaceMemoryRegion2;

/** A VM fd of the real KVM. */
final class LinuxKvmVm implements KvmVm {
    /** KVM_SET_MEMORY_ATTRIBUTES2 flags value no kernel accepts: probes whether the ioctl exists. */
    private static final long INVALID_ATTRIBUTES2_FLAGS = 1;

    private final LinuxKvm kvm;
    private final KvmFd fd;
    private final long type;
    private volatile int gmemAttributes = -1;

    LinuxKvmVm(LinuxKvm kvm, int fd, long type) {
        this.kvm = kvm;
        this.fd = new KvmFd(fd);
        this.type = type;
    }

    int fd() { return fd.fd(); }

    @Override public long type() { return type; }

    @Override public int checkExtension(KvmCap cap) {
        if (cap == KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES) return guestMemfdMemoryAttributes();
        return checkExtension(cap.number());
    }

    @Override public int checkExtension(int cap) {
        return fd.ioctl("KVM_CHECK_EXTENSION", Ioctls.KVM_CHECK_EXTENSION, cap);
    }

    /**
     * KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES without trusting its number, which moved between versions of the series:
     * a scratch one-page guest_memfd is asked for KVM_SET_MEMORY_ATTRIBUTES2 with invalid flags. ENOTTY means the
     * interface does not exist (0); EINVAL means it does, and converting the scratch page to private then tells
     * whether this VM may hold private pages there (PRIVATE) or not (EINVAL: 0).
     */
    private int guestMemfdMemoryAttributes() {
        int cached = gmemAttributes;
        if (cached >= 0) return cached;
        int answer = probeGuestMemfdMemoryAttributes();
        gmemAttributes = answer;
        return answer;
    }

    private int probeGuestMemfdMemoryAttributes() {
        LinuxGuestMemfd scratch;
        try {
            scratch = createGuestMemfd(Sys.PAGE_SIZE, 0);
        } catch (KvmException e) {
            return 0; // no guest_memfd on this VM, so no attributes in one either
        }
        try (scratch; Memory attrs = KvmMemoryAttributes2.T.allocate()) {
            KvmMemoryAttributes2.SIZE.put(attrs, Sys.PAGE_SIZE);
            KvmMemoryAttributes2.FLAGS.put(attrs, INVALID_ATTRIBUTES2_FLAGS);
            int[] r = setAttributes2Retrying(scratch, attrs);
            if (r[0] == 0 || r[1] != Errno.EINVAL) return 0;
            KvmMemoryAttributes2.FLAGS.put(attrs, 0);
            KvmMemoryAttributes2.ATTRIBUTES.put(attrs, MemoryAttribute.PRIVATE);
            r = setAttributes2Retrying(scratch, attrs);
            if (r[0] != 0) return 0;
            KvmMemoryAttributes2.ATTRIBUTES.put(attrs, 0);
            setAttributes2Retrying(scratch, attrs);
            return (int) MemoryAttribute.PRIVATE;
        }
    }

    private static int[] setAttributes2Retrying(LinuxGuestMemfd gmem, Memory attrs) {
        int[] r;
        do {
            r = Sys.ioctlRaw(gmem.fd(), Ioctls.KVM_SET_MEMORY_ATTRIBUTES2, attrs);
        } while (r[0] == -1 && r[1] == Errno.EINTR);
        return r;
    }

    @Override public LinuxGuestMemfd createGuestMemfd(long size, long flags) {
        try (Memory s = KvmCreateGuestMemfd.T.allocate()) {
            KvmCreateGuestMemfd.SIZE.put(s, size);
            KvmCreateGuestMemfd.FLAGS.put(s, flags);
            int gmem = fd.ioctl("KVM_CREATE_GUEST_MEMFD", Ioctls.KVM_CREATE_GUEST_MEMFD, s);
            return new LinuxGuestMemfd(gmem, size, flags);
        }
    }

    @Override public void setUserMemoryRegion2(UserMemoryRegion2 region) {
        try (Memory s = KvmUserspaceMemoryRegion2.T.allocate()) {
            KvmUserspaceMemoryRegion2.SLOT.put(s, region.slot());
            KvmUserspaceMemoryRegion2.FLAGS.put(s, region.flags());
            KvmUserspaceMemoryRegion2.GUEST_PHYS_ADDR.put(s, region.guestPhysAddr());
            KvmUserspaceMemoryRegion2.MEMORY_SIZE.put(s, region.memorySize());
            KvmUserspaceMemoryRegion2.USERSPACE_ADDR.put(s, region.userspaceAddr());
            KvmUserspaceMemoryRegion2.GUEST_MEMFD_OFFSET.put(s, region.guestMemfdOffset());
            KvmUserspaceMemoryRegion2.GUEST_MEMFD.put(s, descriptorOf(region.guestMemfd()));
            fd.ioctl("KVM_SET_USER_MEMORY_REGION2", Ioctls.KVM_SET_USER_MEMORY_REGION2, s);
        }
    }

    /**
     * The descriptor the kernel is to check: the file's own (a memfd then gets EINVAL, as not a guest_memfd), -1
     * for a closed file or one without a descriptor (EBADF), 0 when there is none (the kernel ignores it without
     * KVM_MEM_GUEST_MEMFD).
     */
    private static int descriptorOf(MemoryFile file) {
        if (file == null) return 0;
        return file instanceof FdMemoryFile f ? f.fd() : -1;
    }

    @Override public void setMemoryAttributes(MemoryAttributes attributes) {
        try (Memory s = KvmMemoryAttributes.T.allocate()) {
            KvmMemoryAttributes.ADDRESS.put(s, attributes.address());
            KvmMemoryAttributes.SIZE.put(s, attributes.size());
            KvmMemoryAttributes.ATTRIBUTES.put(s, attributes.attributes());
            KvmMemoryAttributes.FLAGS.put(s, attributes.flags());
            fd.ioctl("KVM_SET_MEMORY_ATTRIBUTES", Ioctls.KVM_SET_MEMORY_ATTRIBUTES, s);
        }
    }

    @Override public void enableCap(EnableCap cap) { enableCap(fd, cap); }

    /** KVM_ENABLE_CAP on a VM or vCPU fd. */
    static void enableCap(KvmFd target, EnableCap cap) {
        try (Memory s = KvmEnableCap.T.allocate()) {
            KvmEnableCap.CAP.put(s, cap.cap());
            KvmEnableCap.FLAGS.put(s, cap.flags());
            long[] args = cap.args();
            for (int i = 0; i < args.length; i++) KvmEnableCap.ARGS.put(s, i, args[i]);
            target.ioctl("KVM_ENABLE_CAP", Ioctls.KVM_ENABLE_CAP, s);
        }
    }

    @Override public long memoryEncryptOp(SevCommand command) {
        byte[] data = command.data();
        boolean hasData = data != null && data.length > 0;
        try (Memory cmd = KvmSevCmd.T.allocate(); Memory buf = hasData ? new Memory(data.length) : null) {
            if (hasData) buf.write(0, data, 0, data.length);
            KvmSevCmd.ID.put(cmd, command.id());
            KvmSevCmd.DATA.put(cmd, hasData ? Pointer.nativeValue(buf) : 0);
            KvmSevCmd.SEV_FD.put(cmd, command.sevDevice() instanceof LinuxSevDevice d ? d.fd() : -1);
            int[] r = fd.ioctlRaw(Ioctls.KVM_MEMORY_ENCRYPT_OP, cmd);
            if (hasData) buf.read(0, data, 0, data.length);
            long error = KvmSevCmd.ERROR.get(cmd);
            if (r[0] == -1)
                throw new KvmException("KVM_MEMORY_ENCRYPT_OP", r[1], KvmException.NONE, error, "SEV command " + command.id());
            return error;
        }
    }

    @Override public long memoryEncryptOp(org.janus.kvm.api.TdxCommand command) { return TdxIoctl.issue(fd, command); }

    @Override public void memoryEncryptOpProbe() {
        fd.ioctl("KVM_MEMORY_ENCRYPT_OP", Ioctls.KVM_MEMORY_ENCRYPT_OP, (Pointer) null);
    }

    @Override public long getDeviceAttr(DeviceAttr attr) { return DeviceAttrs.get(fd, attr); }

    @Override public boolean hasDeviceAttr(DeviceAttr attr) { return DeviceAttrs.has(fd, attr); }

    @Override public void createIrqchip() {
        fd.ioctl("KVM_CREATE_IRQCHIP", Ioctls.KVM_CREATE_IRQCHIP, 0L);
    }

    @Override public void createPit2(int flags) {
        try (Memory s = KvmPitConfig.T.allocate()) {
            KvmPitConfig.FLAGS.put(s, Integer.toUnsignedLong(flags));
            fd.ioctl("KVM_CREATE_PIT2", Ioctls.KVM_CREATE_PIT2, s);
        }
    }

    @Override public void irqLine(int irq, boolean level) {
        try (Memory s = KvmIrqLevel.T.allocate()) {
            KvmIrqLevel.IRQ.put(s, Integer.toUnsignedLong(irq));
            KvmIrqLevel.LEVEL.put(s, level ? 1 : 0);
            fd.ioctl("KVM_IRQ_LINE", Ioctls.KVM_IRQ_LINE, s);
        }
    }

    @Override public void setTssAddr(long address) {
        fd.ioctl("KVM_SET_TSS_ADDR", Ioctls.KVM_SET_TSS_ADDR, address);
    }

    @Override public void setIdentityMapAddr(long address) {
        try (Memory s = new Memory(Long.BYTES)) {
            s.setLong(0, address);
            fd.ioctl("KVM_SET_IDENTITY_MAP_ADDR", Ioctls.KVM_SET_IDENTITY_MAP_ADDR, s);
        }
    }

    @Override public LinuxKvmVcpu createVcpu(int id) {
        int vcpu = fd.ioctl("KVM_CREATE_VCPU", Ioctls.KVM_CREATE_VCPU, id);
        int size = kvm.getVcpuMmapSize();
        Pointer run = Sys.C.mmap(null, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, vcpu, 0);
        if (Pointer.nativeValue(run) == -1L) {
            int errno = Native.getLastError();
            Sys.closeQuietly(vcpu);
            throw new KvmException("mmap", errno, "kvm_run of vCPU " + id);
        }
        return new LinuxKvmVcpu(id, vcpu, run, size);
    }

    @Override public void close() { fd.close(); }

    @Override public String toString() { return "LinuxKvmVm[" + VmType.name(type) + ", fd " + fd.fd() + "]"; }
}
