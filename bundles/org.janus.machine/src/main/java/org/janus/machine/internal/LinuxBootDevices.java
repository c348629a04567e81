package org.janus.machine.internal;

/** Fixed addresses of a direct Linux boot's machine, outside RAM. */
final class LinuxBootDevices {
    /** KVM_SET_IDENTITY_MAP_ADDR: one page, QEMU's choice below the BIOS. */
    static final long IDENTITY_MAP_ADDR = 0xfeffc000L;
    /** KVM_SET_TSS_ADDR: three pages, QEMU's choice. */
    static final long TSS_ADDR = 0xfffbd000L;
    static final long TSS_END = TSS_ADDR + 3 * 4096;

    private LinuxBootDevices() {}
}
