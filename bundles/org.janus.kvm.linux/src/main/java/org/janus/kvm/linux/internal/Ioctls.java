package org.janus.kvm.linux.internal;

/**
 * The KVM ioctl numbers this provider uses, computed with the asm-generic encoding from {@link Structs}' sizes.
 * Each field is named exactly as the kernel's macro, so the header cross-check can find its C counterpart. The
 * values are zero-extended 32-bit numbers (the kernel's {@code unsigned int cmd}).
 */
final class Ioctls {
    /** The ioctl type of every KVM request. */
    static final int KVMIO = 0xAE;

    private static final int NRBITS = 8;
    private static final int TYPEBITS = 8;
    private static final int SIZEBITS = 14;
    private static final int TYPESHIFT = NRBITS;
    private static final int SIZESHIFT = TYPESHIFT + TYPEBITS;
    private static final int DIRSHIFT = SIZESHIFT + SIZEBITS;
    private static final long NONE = 0;
    private static final long WRITE = 1;
    private static final long READ = 2;
    /** sizeof(unsigned long), the argument type KVM_MEMORY_ENCRYPT_OP declares. */
    private static final int SIZEOF_UNSIGNED_LONG = 8;

    static final long KVM_GET_API_VERSION = io(0x00);
    static final long KVM_CREATE_VM = io(0x01);
    static final long KVM_CHECK_EXTENSION = io(0x03);
    static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    static final long KVM_GET_SUPPORTED_CPUID = iowr(0x05, Structs.KvmCpuid2.T.size());
    static final long KVM_CREATE_VCPU = io(0x41);
    /** The address is the argument itself, not a pointer. */
    static final long KVM_SET_TSS_ADDR = io(0x47);
    static final long KVM_SET_IDENTITY_MAP_ADDR = iow(0x48, Long.BYTES);
    static final long KVM_SET_USER_MEMORY_REGION2 = iow(0x49, Structs.KvmUserspaceMemoryRegion2.T.size());
    static final long KVM_CREATE_IRQCHIP = io(0x60);
    static final long KVM_IRQ_LINE = iow(0x61, Structs.KvmIrqLevel.T.size());
    static final long KVM_CREATE_PIT2 = iow(0x77, Structs.KvmPitConfig.T.size());
    static final long KVM_RUN = io(0x80);
    static final long KVM_GET_REGS = ior(0x81, Structs.KvmRegs.T.size());
    static final long KVM_SET_REGS = iow(0x82, Structs.KvmRegs.T.size());
    static final long KVM_GET_SREGS = ior(0x83, Structs.KvmSregs.T.size());
    static final long KVM_SET_SREGS = iow(0x84, Structs.KvmSregs.T.size());
    static final long KVM_SET_CPUID2 = iow(0x90, Structs.KvmCpuid2.T.size());
    static final long KVM_ENABLE_CAP = iow(0xA3, Structs.KvmEnableCap.T.size());
    static final long KVM_MEMORY_ENCRYPT_OP = iowr(0xBA, SIZEOF_UNSIGNED_LONG);
    static final long KVM_SET_MEMORY_ATTRIBUTES = iow(0xD2, Structs.KvmMemoryAttributes.T.size());
    /** Shares nr 0xD2 with KVM_SET_MEMORY_ATTRIBUTES; direction and size tell them apart. */
    static final long KVM_SET_MEMORY_ATTRIBUTES2 = iowr(0xD2, Structs.KvmMemoryAttributes2.T.size());
    static final long KVM_CREATE_GUEST_MEMFD = iowr(0xD4, Structs.KvmCreateGuestMemfd.T.size());
    static final long KVM_PRE_FAULT_MEMORY = iowr(0xD5, Structs.KvmPreFaultMemory.T.size());
    static final long KVM_SET_DEVICE_ATTR = iow(0xE1, Structs.KvmDeviceAttr.T.size());
    static final long KVM_GET_DEVICE_ATTR = iow(0xE2, Structs.KvmDeviceAttr.T.size());
    static final long KVM_HAS_DEVICE_ATTR = iow(0xE3, Structs.KvmDeviceAttr.T.size());

    private Ioctls() {}

    static long io(int nr) { return encode(NONE, nr, 0); }

    static long iow(int nr, int size) { return encode(WRITE, nr, size); }

    static long ior(int nr, int size) { return encode(READ, nr, size); }

    static long iowr(int nr, int size) { return encode(READ | WRITE, nr, size); }

    private static long encode(long dir, int nr, int size) {
        if (nr < 0 || nr > 0xff || size < 0 || size >= 1 << SIZEBITS)
            throw new IllegalArgumentException("nr " + nr + " or size " + size + " does not fit an ioctl number");
        return dir << DIRSHIFT | (long) size << SIZESHIFT | (long) KVMIO << TYPESHIFT | nr;
    }
}
