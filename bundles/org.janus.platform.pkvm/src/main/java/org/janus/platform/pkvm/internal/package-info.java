/**
 * The pKVM platform ({@code janus.platform=pkvm}): arm64 protected VMs whose memory lives in guest_memfd and changes
 * face in place, so that a page the guest shares keeps what it holds and no bounce buffer is needed.
 *
 * <h2>How a share or unshare reaches the VMM, and why this way</h2>
 * The guest asks with the SMCCC vendor hypercalls of Documentation/virt/kvm/arm/hypercalls.rst:
 * ARM_SMCCC_VENDOR_HYP_KVM_MEM_SHARE_FUNC_ID (0xC6000003) and _MEM_UNSHARE_FUNC_ID (0xC6000004), x1 = the IPA of one
 * granule (HYP_MEMINFO's answer, the host page), x2 and x3 zero, answered SUCCESS (0) or INVALID_PARAMETER (-3).
 * Upstream pKVM (Will Deacon's protected-VM series, Linux 7.1) backs protected VMs with anonymous memory and completes
 * both calls in the hypervisor; the VMM is never told. For a guest_memfd-backed protected VM the host must change the
 * page's guest_memfd attribute, so the call has to reach userspace. No merged kernel does this yet; the most recent
 * posted form, modelled here, is Fuad Tabba's pKVM guest_memfd series (RFC v1, 2024-02-22), patches 11/26 "KVM:
 * arm64: Add initial support for KVM_CAP_EXIT_HYPERCALL" and 12/26 "KVM: arm64: Allow userspace to receive SHARE and
 * UNSHARE notifications" (both by Will Deacon):
 * <ul>
 *   <li>KVM_CHECK_EXTENSION(KVM_CAP_EXIT_HYPERCALL) on arm64 answers BIT(ARM_SMCCC_KVM_FUNC_MEM_SHARE) |
 *       BIT(ARM_SMCCC_KVM_FUNC_MEM_UNSHARE) = 0x18; KVM_ENABLE_CAP with args[0] a subset of it enables the exits
 *       (anything else, non-zero args[1..3] or flags: EINVAL);</li>
 *   <li>an enabled call exits with KVM_EXIT_HYPERCALL, {@code hypercall.nr} = the function <em>number</em> (3 or 4),
 *       {@code args[0..2]} = x1..x3; a call not enabled gets INVALID_PARAMETER without an exit;</li>
 *   <li>{@code hypercall.ret} is what the guest finds in x0 (smccc_set_retval at the next KVM_RUN).</li>
 * </ul>
 * The RFC had KVM flip a per-VM "not mappable" attribute itself before the exit; with the in-place conversion series as
 * applied (attributes in guest_memfd, set by userspace with KVM_SET_MEMORY_ATTRIBUTES2, as for x86's MAP_GPA_RANGE) the
 * VMM does it, which is what this platform does: each exit becomes one conversion request of the machine's engine
 * ({@link org.janus.platform.api.VmContext#convert}), answered SUCCESS when done and INVALID_PARAMETER when refused
 * (SMCCC has no "try again"; a page still pinned after the engine's retries is refused). The hypervisor's own checks
 * (reserved words, alignment, a page in the wrong state, an IPA outside guest memory) answer the guest before any exit,
 * and pKVM completes an unshare only once the host has really given the page up (hyp-main.c). Why no
 * KVM_EXIT_MEMORY_FAULT: a protected guest does not pick a face per access (no C-bit or shared bit), so there is no
 * mismatched access to fault on; the guest says so explicitly.
 *
 * <h2>Memory and the legacy strategy</h2>
 * Only in place. The legacy strategy needs VM-wide PRIVATE attributes (KVM_SET_MEMORY_ATTRIBUTES), which arm64 does
 * not have: the ioctl is x86's, and the series' CONFIG_KVM_VM_MEMORY_ATTRIBUTES depends on x86's SW_PROTECTED, TDX and
 * SEV, so an arm64 kernel with the series is in-place only. Before the series protected VMs are not guest_memfd-backed
 * at all, and {@link org.janus.platform.pkvm.internal.PkvmPlatform#support} says so.
 *
 * <h2>The VM type</h2>
 * KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED | KVM_VM_TYPE_ARM_IPA_SIZE(n)) with n the smallest IPA size that reaches
 * the end of the memory map (RAM and MMIO), at least 32; a map beyond KVM_CAP_ARM_VM_IPA_SIZE is a spec problem at
 * {@code $.memory}. Memslots are fixed once a vCPU has run (EPERM for a move or delete, and for read-only or
 * dirty-logged slots at any time): the machine creates them all before the first run and never changes them.
 */
package org.janus.platform.pkvm.internal;
