package org.janus.kvm.linux.internal;

import com.sun.jna.Memory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.VmType;
import org.janus.kvm.libc.LibC;
import org.janus.kvm.libc.Memfd;
import org.janus.kvm.libc.Sys;
import org.janus.kvm.linux.internal.Structs.KvmCpuid2;
import org.janus.kvm.linux.internal.Structs.KvmCpuidEntry2;

/** {@link Kvm} on the real /dev/kvm: every method is the ioctl itself, and every error the kernel's errno. */
public final class LinuxKvm implements Kvm, AutoCloseable {
    /** The KVM system device. */
    public static final String DEVICE = "/dev/kvm";
    /** VM types whose VMs have private memory, probed for per-guest_memfd attributes at system scope. */
    private static final long[] PRIVATE_MEMORY_TYPES = {VmType.X86_SW_PROTECTED, VmType.X86_SNP, VmType.X86_TDX};

    private final String device;
    private final KvmFd fd;
    private volatile int vcpuMmapSize;
    private volatile int gmemAttributes = -1;

    private LinuxKvm(String device, int fd) {
        this.device = device;
        this.fd = new KvmFd(fd);
    }

    /**
     * Opens a KVM device read-write.
     *
     * @throws KvmException named {@code open <device>}: ENOENT where there is no KVM, EACCES without permission
     */
    public static LinuxKvm open(String device) {
        int fd = Sys.check("open " + device, Sys.C.open(device, LibC.O_RDWR | LibC.O_CLOEXEC));
        return new LinuxKvm(device, fd);
    }

    /** Opens /dev/kvm. */
    public static LinuxKvm open() { return open(DEVICE); }

    @Override public String provider() { return "linux"; }

    @Override public String description() {
        return "linux: " + device + " on Linux " + kernelRelease().orElse("(unknown release)");
    }

    @Override public int getApiVersion() {
        return fd.ioctl("KVM_GET_API_VERSION", Ioctls.KVM_GET_API_VERSION, 0L);
    }

    @Override public int checkExtension(KvmCap cap) {
        if (cap == KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES) return guestMemfdMemoryAttributes();
        return checkExtension(cap.number());
    }

    @Override public int checkExtension(int cap) {
        return fd.ioctl("KVM_CHECK_EXTENSION", Ioctls.KVM_CHECK_EXTENSION, cap);
    }

    /**
     * What KVM offers for any VM: the per-VM probe ({@link LinuxKvmVm#checkExtension(KvmCap)}) on a scratch VM of
     * every VM type this host has that holds private memory, or'ed together; 0 if it has none.
     */
    private int guestMemfdMemoryAttributes() {
        int cached = gmemAttributes;
        if (cached >= 0) return cached;
        long types = checkExtension(KvmCap.VM_TYPES);
        int answer = 0;
        for (long type : PRIVATE_MEMORY_TYPES) {
            if ((types & (1L << type)) == 0) continue;
            try (KvmVm vm = createVm(type)) {
                answer |= vm.checkExtension(KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES);
            } catch (KvmException e) {
                // A type the mask lists may still refuse a VM (e.g. no free ASID); it then tells us nothing.
            }
        }
        gmemAttributes = answer;
        return answer;
    }

    @Override public LinuxKvmVm createVm(long type) {
        while (true) {
            int[] r = fd.ioctlRaw(Ioctls.KVM_CREATE_VM, type);
            if (r[0] >= 0) return new LinuxKvmVm(this, r[0], type);
            // KVM_CREATE_VM can be interrupted while it sets up the VM's MMU; QEMU retries as well.
            if (r[1] != Errno.EINTR) throw new KvmException("KVM_CREATE_VM", r[1], VmType.name(type));
        }
    }

    @Override public int getVcpuMmapSize() {
        int size = vcpuMmapSize;
        if (size == 0) {
            size = fd.ioctl("KVM_GET_VCPU_MMAP_SIZE", Ioctls.KVM_GET_VCPU_MMAP_SIZE, 0L);
            vcpuMmapSize = size;
        }
        return size;
    }

    @Override public List<CpuidEntry> getSupportedCpuid(int maxEntries) {
        if (maxEntries < 0) throw new IllegalArgumentException("maxEntries " + maxEntries);
        try (Memory m = CStruct.allocate(KvmCpuid2.ENTRIES + (long) Math.max(maxEntries, 1) * KvmCpuidEntry2.T.size())) {
            KvmCpuid2.NENT.put(m, maxEntries);
            fd.ioctl("KVM_GET_SUPPORTED_CPUID", Ioctls.KVM_GET_SUPPORTED_CPUID, m);
            int n = (int) KvmCpuid2.NENT.get(m);
            List<CpuidEntry> entries = new ArrayList<>(n);
            for (int i = 0; i < n; i++)
                entries.add(Cpuid.read(m.share(KvmCpuid2.ENTRIES + (long) i * KvmCpuidEntry2.T.size())));
            return Collections.unmodifiableList(entries);
        }
    }

    @Override public long getDeviceAttr(DeviceAttr attr) { return DeviceAttrs.get(fd, attr); }

    @Override public boolean hasDeviceAttr(DeviceAttr attr) { return DeviceAttrs.has(fd, attr); }

    @Override public HostMemfd memfdCreate(String name, long size) { return Memfd.create(name, size); }

    @Override public HostMemfd memfdCreate(String name, long size, long flags) { return Memfd.create(name, size, flags); }

    @Override public SevDevice openSevDevice() { return LinuxSevDevice.open(); }

    @Override public int pageSize() { return Sys.PAGE_SIZE; }

    @Override public Map<String, String> hostDiagnostics() {
        Map<String, String> d = new LinkedHashMap<>();
        kernelRelease().ifPresent(r -> d.put("kernel.release", r));
        d.put("kvm.device", device);
        for (String p : new String[] {"vm_memory_attributes", "gmem_in_place_conversion"})
            readTrimmed(Path.of("/sys/module/kvm/parameters", p)).ifPresent(v -> d.put("kvm.parameter." + p, v));
        return Collections.unmodifiableMap(d);
    }

    private static Optional<String> kernelRelease() {
        return readTrimmed(Path.of("/proc/sys/kernel/osrelease"));
    }

    private static Optional<String> readTrimmed(Path p) {
        try {
            return Optional.of(Files.readString(p).trim());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Closes /dev/kvm. VMs created from it stay valid (the kernel holds its own references). */
    @Override public void close() { fd.close(); }

    @Override public String toString() { return description(); }
}
