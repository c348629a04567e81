package org.janus.kvm.api;

/**
 * struct kvm_userspace_memory_region2. {@code guestMemfd} is the file bound with {@link MemslotFlags#GUEST_MEMFD}
 * (null without that flag); any {@link MemoryFile} may be passed so that the kernel's own checks (a closed file:
 * EBADF; a file that is not a guest_memfd of this VM: EINVAL) can be exercised.
 *
 * @param slot bits 15:0 slot id, bits 31:16 address space id
 * @param userspaceAddr host virtual address of the shared backing (a {@link HostMapping#address()}), or 0
 */
public record UserMemoryRegion2(int slot, int flags, long guestPhysAddr, long memorySize, long userspaceAddr,
                                long guestMemfdOffset, MemoryFile guestMemfd) {

    /** A memslot without guest_memfd. */
    public static UserMemoryRegion2 plain(int slot, long gpa, long size, long userspaceAddr) {
        return new UserMemoryRegion2(slot, 0, gpa, size, userspaceAddr, 0, null);
    }

    /** A memslot bound to {@code gmem} at {@code offset}, with {@code userspaceAddr} as its shared side (or 0). */
    public static UserMemoryRegion2 withGuestMemfd(int slot, long gpa, long size, long userspaceAddr,
                                                   MemoryFile gmem, long offset) {
        return new UserMemoryRegion2(slot, MemslotFlags.GUEST_MEMFD, gpa, size, userspaceAddr, offset, gmem);
    }

    /** The same slot with size 0: deleting it. */
    public UserMemoryRegion2 deleted() {
        return new UserMemoryRegion2(slot, flags, guestPhysAddr, 0, userspaceAddr, guestMemfdOffset, guestMemfd);
    }
}
