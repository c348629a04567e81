package org.janus.kvm.api.program;

import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.janus.kvm.api.Errno;

/**
 * The errnos the kernel documents for each call a {@link ModelledKvm} can fail on purpose, by the call's name as
 * {@link ModelledKvm#injectFault} takes it: what a fault-injection run fails each call with in turn. Errnos that
 * only bad arguments cause are left out where Janus never passes such arguments (a VMM's own bug is not a failure
 * path to survive); resource exhaustion, interruption and the host refusing are in.
 */
public final class FaultPoints {
    private static final Map<String, List<Integer>> ERRNOS = Map.ofEntries(
            Map.entry("KVM_CREATE_VM", List.of(Errno.ENOMEM, Errno.EMFILE)),
            Map.entry("KVM_CREATE_GUEST_MEMFD", List.of(Errno.ENOMEM, Errno.EMFILE, Errno.EINVAL)),
            Map.entry("KVM_SET_USER_MEMORY_REGION2", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EEXIST)),
            Map.entry("KVM_SET_MEMORY_ATTRIBUTES", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EFAULT)),
            Map.entry("KVM_SET_MEMORY_ATTRIBUTES2", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EFAULT, Errno.EAGAIN, Errno.EINTR)),
            Map.entry("KVM_ENABLE_CAP", List.of(Errno.EINVAL)),
            Map.entry("KVM_CREATE_VCPU", List.of(Errno.ENOMEM, Errno.EMFILE, Errno.EEXIST)),
            Map.entry("KVM_CREATE_IRQCHIP", List.of(Errno.ENOMEM, Errno.EEXIST, Errno.EINVAL)),
            Map.entry("KVM_CREATE_PIT2", List.of(Errno.ENOMEM, Errno.EEXIST, Errno.ENOENT)),
            Map.entry("KVM_RUN", List.of(Errno.EINTR, Errno.EFAULT, Errno.ENOMEM)),
            Map.entry("fallocate", List.of(Errno.ENOMEM, Errno.ENOSPC, Errno.EINTR, Errno.EIO)),
            Map.entry("memfd_create", List.of(Errno.EMFILE, Errno.ENOMEM)),
            Map.entry("mmap", List.of(Errno.ENOMEM, Errno.EAGAIN)),
            Map.entry("KVM_SEV_SNP_LAUNCH_START", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EIO)),
            Map.entry("KVM_SEV_SNP_LAUNCH_UPDATE", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EIO, Errno.EFAULT)),
            Map.entry("KVM_SEV_SNP_LAUNCH_FINISH", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EIO)),
            Map.entry("KVM_TDX_CAPABILITIES", List.of(Errno.EINVAL, Errno.E2BIG)),
            Map.entry("KVM_TDX_INIT_VM", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EIO)),
            Map.entry("KVM_TDX_INIT_VCPU", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EIO)),
            Map.entry("KVM_TDX_INIT_MEM_REGION", List.of(Errno.ENOMEM, Errno.EINVAL, Errno.EIO, Errno.EAGAIN, Errno.EINTR)),
            Map.entry("KVM_TDX_FINALIZE_VM", List.of(Errno.EINVAL, Errno.EIO, Errno.EAGAIN)));

    private FaultPoints() {}

    /** The errnos to fail {@code operation} with: the table's, or ENOMEM and EINVAL for a call it does not list. */
    public static List<Integer> errnos(String operation) {
        return ERRNOS.getOrDefault(operation, List.of(Errno.ENOMEM, Errno.EINVAL));
    }

    /**
     * Which calls of an operation made {@code calls} times to fail: the first, second, middle and last (each once),
     * so that a path that calls it a million times costs four cases, and the ones where state differs (nothing done
     * yet, something done, most done, all but the last) are all among them.
     */
    public static List<Long> positions(long calls) {
        if (calls <= 0) return List.of();
        return LongStream.of(0, 1, calls / 2, calls - 1).filter(p -> p < calls).distinct().boxed().toList();
    }
}
