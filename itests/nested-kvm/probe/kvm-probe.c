/*
 * kvm-probe: checks that the /dev/kvm in front of it is a real KVM with what Janus needs.
 *
 *   1. KVM_GET_API_VERSION == 12
 *   2. KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES) has bit 0 (default VM) and bit 1 (SW_PROTECTED_VM)
 *   3. KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM) works
 *   4. KVM_CREATE_GUEST_MEMFD works on that VM
 *   5. KVM_SET_USER_MEMORY_REGION2 binds it to a memslot (KVM_MEM_GUEST_MEMFD)
 *   6. KVM_SET_MEMORY_ATTRIBUTES can make a page private and shared again
 *
 * Exit status 0 only when all of them succeed. Built static (it runs in a minimal guest) by
 * itests/nested-kvm/selftest.sh, against the guest kernel's uapi headers when they are there;
 * with older headers the few definitions it needs are supplied below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_X86_SW_PROTECTED_VM
#define KVM_X86_SW_PROTECTED_VM 1
#endif

#ifdef KVM_CREATE_GUEST_MEMFD
#define PROBE_HEADERS "kernel uapi headers with guest_memfd"
typedef struct kvm_create_guest_memfd probe_gmem;
typedef struct kvm_userspace_memory_region2 probe_region2;
typedef struct kvm_memory_attributes probe_attrs;
#else
/* Layouts as in the kernel's include/uapi/linux/kvm.h (6.8 and later). */
#define PROBE_HEADERS "built-in guest_memfd definitions (old system headers)"
typedef struct {
    uint64_t size;
    uint64_t flags;
    uint64_t reserved[6];
} probe_gmem;
typedef struct {
    uint32_t slot;
    uint32_t flags;
    uint64_t guest_phys_addr;
    uint64_t memory_size;
    uint64_t userspace_addr;
    uint64_t guest_memfd_offset;
    uint32_t guest_memfd;
    uint32_t pad1;
    uint64_t pad2[14];
} probe_region2;
typedef struct {
    uint64_t address;
    uint64_t size;
    uint64_t attributes;
    uint64_t flags;
} probe_attrs;
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, probe_gmem)
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, probe_region2)
#define KVM_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, probe_attrs)
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
#endif

_Static_assert(sizeof(probe_gmem) == 64, "struct kvm_create_guest_memfd is 64 bytes");
_Static_assert(sizeof(probe_region2) == 160, "struct kvm_userspace_memory_region2 is 160 bytes");
_Static_assert(sizeof(probe_attrs) == 32, "struct kvm_memory_attributes is 32 bytes");

static int failures;

/* Print one result line; rc < 0 means the call failed with errno. */
static long report(const char *what, long rc, int ok)
{
    if (rc < 0)
        printf("  %-58s -> -1 (%s)%s\n", what, strerror(errno), ok ? "" : "  FAIL");
    else
        printf("  %-58s -> %ld%s\n", what, rc, ok ? "" : "  FAIL");
    if (!ok)
        failures++;
    return rc;
}

int main(void)
{
    const size_t mem_size = 2u << 20;
    printf("kvm-probe (%s)\n", PROBE_HEADERS);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        printf("  open(/dev/kvm) -> %s  FAIL\n", strerror(errno));
        return 1;
    }

    long api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    report("KVM_GET_API_VERSION == 12", api, api == 12);

    long types = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
    report("KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES) has bits 0 and 1", types, types >= 0 && (types & 3) == 3);
    report("  (info) KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD)", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD), 1);

    int vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
    report("KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM = 1)", vm, vm >= 0);
    if (vm < 0)
        goto out;
    report("  (info) VM KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES)",
           ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES), 1);

    probe_gmem gmem;
    memset(&gmem, 0, sizeof gmem);
    gmem.size = mem_size;
    int gfd = (int)ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
    report("KVM_CREATE_GUEST_MEMFD(2 MiB, flags 0)", gfd, gfd >= 0);
    if (gfd < 0)
        goto out;

    /* Shared half of the slot: ordinary anonymous memory; private half: the guest_memfd. */
    void *shared = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        report("mmap(anonymous, 2 MiB)", -1, 0);
        goto out;
    }
    probe_region2 region;
    memset(&region, 0, sizeof region);
    region.slot = 0;
    region.flags = KVM_MEM_GUEST_MEMFD;
    region.guest_phys_addr = 0;
    region.memory_size = mem_size;
    region.userspace_addr = (uint64_t)(uintptr_t)shared;
    region.guest_memfd = (uint32_t)gfd;
    region.guest_memfd_offset = 0;
    long rc = ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region);
    report("KVM_SET_USER_MEMORY_REGION2(KVM_MEM_GUEST_MEMFD)", rc, rc == 0);

    probe_attrs attrs;
    memset(&attrs, 0, sizeof attrs);
    attrs.address = 0x1000;
    attrs.size = 0x1000;
    attrs.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE;
    rc = ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &attrs);
    report("KVM_SET_MEMORY_ATTRIBUTES(0x1000, PRIVATE)", rc, rc == 0);
    attrs.attributes = 0;
    rc = ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &attrs);
    report("KVM_SET_MEMORY_ATTRIBUTES(0x1000, shared)", rc, rc == 0);

out:
    printf("kvm-probe: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
