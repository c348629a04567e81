package org.janus.kvm.sim.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryAttribute;
import org.janus.kvm.api.MemoryAttributes;
import org.janus.kvm.api.MemslotFlags;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.UserMemoryRegion2;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.libc.NativeMapping;
import org.janus.kvm.sim.SimHardware;

/**
 * A VM of the software KVM: memslots, the VM-wide attributes of the legacy mode (per GFN, as KVM's xarray),
 * enabled hypercall exits, SEV state, vCPUs, and the guest memory access rules that decide between an access and
 * an exit (§1.5.1, §3.3, §8).
 */
final class SimVm implements KvmVm, SimVmView {
    static final String SET_MEMORY_ATTRIBUTES = "KVM_SET_MEMORY_ATTRIBUTES";
    static final String SET_REGION2 = "KVM_SET_USER_MEMORY_REGION2";

    private final SimHost host;
    private final KernelRules rules;
    private final long type;
    private final int id;
    private final int page;
    private final Map<Integer, Memslot> slotsById = new TreeMap<>();
    /** Address space 0 by GPA, for guest accesses. */
    private final TreeMap<Long, Memslot> slotsByGpa = new TreeMap<>();
    /** Legacy mode: GFNs whose attribute is PRIVATE. */
    private final PageRanges privateGfns = new PageRanges();
    private final Map<Integer, SimVcpuImpl> vcpus = new TreeMap<>();
    /** kvm_for_each_vcpu order: creation order, not id order. */
    private final List<SimVcpuImpl> vcpusCreated = new ArrayList<>();
    private volatile boolean open = true;
    private volatile long hypercallExits;
    private volatile boolean ran;
    private boolean sevInitialized;
    /** The SNP launch state, from KVM_SEV_INIT2 on an SNP VM. */
    private SnpFirmware snp;
    /** The TD's state in KVM and the TDX module, for every KVM_X86_TDX_VM (tdx_vm_init runs at KVM_CREATE_VM). */
    private final TdxModule tdx;
    /** What SNP or TDX hardware does to this VM's private memory; null for every other VM. */
    private final EncryptedMemory encrypted;
    /** KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_IRQ_LINE and the TSS and identity-map addresses. */
    private final SimIrqchip irqchip;
    /** Why KVM marked the VM dead (kvm_vm_dead): every VM and vCPU ioctl then answers EIO. Null while it lives. */
    private volatile String deadReason;

    SimVm(SimHost host, long type, int id) {
        this.host = host;
        this.rules = host.rules();
        this.type = type;
        this.id = id;
        this.page = host.pageSize();
        this.tdx = rules.isX86() && type == VmType.X86_TDX ? new TdxModule(this) : null;
        this.encrypted = EncryptedMemory.of(this);
        this.irqchip = new SimIrqchip(rules.isX86(), tdx != null);
    }

    /** The VM's in-kernel irqchip state. */
    SimIrqchip irqchip() { return irqchip; }

    /** The TD state of a KVM_X86_TDX_VM, else null. */
    TdxModule tdx() { return tdx; }

    /** The memory-encryption model of an SNP VM or a TD, else null. */
    EncryptedMemory encryptedMemory() { return encrypted; }

    /** kvm_vm_dead: from now on every VM and vCPU ioctl fails with EIO. */
    void markDead(String why) {
        if (deadReason == null) deadReason = why;
    }

    /** EIO once KVM has marked the VM dead (kvm_vm_ioctl and kvm_vcpu_ioctl check kvm->vm_dead first). */
    void checkAlive(String op) {
        String why = deadReason;
        if (why != null) throw new KvmException(op, Errno.EIO, "the VM is dead: " + why);
    }

    SimHost host() { return host; }

    KernelRules rules() { return rules; }

    int id() { return id; }

    @Override public long type() { return type; }

    private void ensureOpen(String op) {
        if (!open) throw new KvmException(op, Errno.EBADF, "VM is closed");
        checkAlive(op);
    }

    @Override public int checkExtension(KvmCap cap) {
        ensureOpen("KVM_CHECK_EXTENSION");
        if (cap == KvmCap.GUEST_MEMFD_MEMORY_ATTRIBUTES) return (int) rules.gmemMemoryAttributes(type);
        return rules.checkExtension(cap.number(), type);
    }

    @Override public int checkExtension(int cap) {
        ensureOpen("KVM_CHECK_EXTENSION");
        return rules.checkExtension(cap, type);
    }

    // ---- guest_memfd ----

    @Override public GuestMemfd createGuestMemfd(long size, long flags) {
        String op = "KVM_CREATE_GUEST_MEMFD";
        ensureOpen(op);
        // arm64 6.12 has no guest_memfd: the request reaches kvm_arch_vm_ioctl, which answers -EINVAL.
        if (!rules.gmemIoctlExists()) throw new KvmException(op, Errno.EINVAL, "no guest_memfd on this kernel");
        long supported = rules.gmemSupportedFlags(type);
        // §3.1: flags first, then size.
        if ((flags & ~supported) != 0) throw new KvmException(op, Errno.EINVAL, "flags 0x" + Long.toHexString(flags)
                + " not in the supported 0x" + Long.toHexString(supported) + " for a " + VmType.name(type) + " VM");
        if (size <= 0 || size % page != 0) throw new KvmException(op, Errno.EINVAL, "size must be a positive multiple of the page size");
        host.faults().check(op);
        return new SimGuestMemfd(this, size, flags);
    }

    // ---- memslots (§2.2) ----

    @Override public void setUserMemoryRegion2(UserMemoryRegion2 r) {
        String op = SET_REGION2;
        ensureOpen(op);
        checkRegionFlags(r.flags());
        long size = r.memorySize();
        boolean gmemFlag = (r.flags() & MemslotFlags.GUEST_MEMFD) != 0;
        if (size % page != 0 || size < 0) throw new KvmException(op, Errno.EINVAL, "memory_size not page aligned");
        if (r.guestPhysAddr() % page != 0) throw new KvmException(op, Errno.EINVAL, "guest_phys_addr not page aligned");
        if (r.userspaceAddr() % page != 0 || Long.compareUnsigned(r.userspaceAddr(), KernelRules.TASK_SIZE) > 0
                || Long.compareUnsigned(r.userspaceAddr() + size, KernelRules.TASK_SIZE) > 0
                || Long.compareUnsigned(r.userspaceAddr() + size, r.userspaceAddr()) < 0)
            throw new KvmException(op, Errno.EINVAL, "userspace_addr not aligned or not a user address");
        if (gmemFlag && (r.guestMemfdOffset() % page != 0
                || Long.compareUnsigned(r.guestMemfdOffset() + size, r.guestMemfdOffset()) < 0))
            throw new KvmException(op, Errno.EINVAL, "guest_memfd_offset not aligned or overflowing");
        int as = r.slot() >>> 16;
        int slotId = r.slot() & 0xffff;
        if (as >= (rules.isX86() && !rules.hasPrivateMem(type) ? 2 : 1) || slotId >= rules.checkExtension(10, type))
            throw new KvmException(op, Errno.EINVAL, "slot id or address space out of range");
        if (Long.compareUnsigned(r.guestPhysAddr() + size, r.guestPhysAddr()) < 0)
            throw new KvmException(op, Errno.EINVAL, "guest_phys_addr + memory_size overflows");
        if (size / page > KernelRules.KVM_MEM_MAX_NR_PAGES) throw new KvmException(op, Errno.EINVAL, "memslot too large");
        synchronized (host.lock) {
            Memslot old = slotsById.get(r.slot());
            if (size == 0) {
                if (old == null) throw new KvmException(op, Errno.EINVAL, "no slot " + r.slot() + " to delete");
                PkvmRules.checkMemslotChange(rules, type, ran, PkvmRules.Change.DELETE, 0);
                host.faults().check(op);
                removeSlot(old);
                return;
            }
            boolean move = false;
            if (old != null) {
                // Private memslots are immutable; other slots may move or change LOG_DIRTY_PAGES only.
                if (gmemFlag || old.gmem() != null)
                    throw new KvmException(op, Errno.EINVAL, "a guest_memfd memslot can only be deleted");
                if (r.userspaceAddr() != old.userspaceAddr() || size != old.size()
                        || ((r.flags() ^ old.flags()) & MemslotFlags.READONLY) != 0)
                    throw new KvmException(op, Errno.EINVAL, "only the GPA or LOG_DIRTY_PAGES of a memslot can change");
                if (r.guestPhysAddr() == old.gpa() && r.flags() == old.flags()) return;
                move = r.guestPhysAddr() != old.gpa();
            }
            if (old == null || move) {
                for (Memslot s : slotsById.values()) {
                    if (s.slot() == r.slot() || s.addressSpace() != as) continue;
                    if (r.guestPhysAddr() < s.end() && s.gpa() < r.guestPhysAddr() + size)
                        throw new KvmException(op, Errno.EEXIST, "GPA range overlaps slot " + s.slot());
                }
            }
            SimGuestMemfd gmem = gmemFlag ? bind(r) : null;
            // kvm_arch_prepare_memory_region: pKVM's rules come first.
            PkvmRules.checkMemslotChange(rules, type, ran, old == null ? PkvmRules.Change.CREATE
                    : move ? PkvmRules.Change.MOVE : PkvmRules.Change.FLAGS_ONLY, r.flags());
            if (gmem != null && !rules.isX86() && !gmem.hasMmap())
                throw new KvmException(op, Errno.EINVAL, "arm64 supports guest_memfd memslots only with GUEST_MEMFD_FLAG_MMAP");
            if (Long.compareUnsigned(r.guestPhysAddr() + size, rules.maxGpa(type)) > 0)
                throw new KvmException(op, rules.isX86() ? Errno.EINVAL : Errno.EFAULT, "memslot beyond the guest physical address space");
            host.faults().check(op);
            boolean gmemOnly = gmem != null && rules.gmemOnlyMemslot(gmem.hasMmap());
            Memslot slot = new Memslot(r.slot(), r.flags(), r.guestPhysAddr(), size, r.userspaceAddr(),
                    gmemFlag ? r.guestMemfdOffset() : 0, gmem, gmemOnly);
            if (old != null) removeSlot(old);
            slotsById.put(slot.slot(), slot);
            if (slot.addressSpace() == 0) slotsByGpa.put(slot.gpa(), slot);
        }
    }

    /** check_memory_region_flags. */
    private void checkRegionFlags(int flags) {
        int valid = MemslotFlags.LOG_DIRTY_PAGES;
        if (rules.gmemSupported(type)) valid |= MemslotFlags.GUEST_MEMFD;
        // Dirty logging of private memory is not supported; GUEST_MEMFD slots cannot be read-only.
        if ((flags & MemslotFlags.GUEST_MEMFD) != 0) valid &= ~MemslotFlags.LOG_DIRTY_PAGES;
        if (rules.readonlyMemslots(type) && (flags & MemslotFlags.GUEST_MEMFD) == 0) valid |= MemslotFlags.READONLY;
        // pKVM refuses read-only slots and dirty logging of a protected VM later, with EPERM (PkvmRules).
        if ((flags & ~valid) != 0) throw new KvmException(SET_REGION2, Errno.EINVAL,
                "memslot flags 0x" + Integer.toHexString(flags) + " not valid for this VM (valid: 0x" + Integer.toHexString(valid) + ")");
    }

    /** kvm_gmem_bind (§2.2 table). */
    private SimGuestMemfd bind(UserMemoryRegion2 r) {
        if (r.guestMemfd() == null || !r.guestMemfd().isOpen())
            throw new KvmException(SET_REGION2, Errno.EBADF, "guest_memfd is not an open file");
        if (!(r.guestMemfd() instanceof SimGuestMemfd g) || g.vm() != this)
            throw new KvmException(SET_REGION2, Errno.EINVAL, "file is not a guest_memfd of this VM");
        long offset = r.guestMemfdOffset();
        if (offset < 0 || offset % page != 0 || Long.compareUnsigned(offset + r.memorySize(), g.size()) > 0)
            throw new KvmException(SET_REGION2, Errno.EINVAL, "guest_memfd range beyond the file");
        for (Memslot s : slotsById.values())
            if (s.slot() != r.slot() && s.bindingOverlaps(g, offset, r.memorySize()))
                throw new KvmException(SET_REGION2, rules.overlappingBindingErrno(), "guest_memfd range already bound to slot " + s.slot());
        return g;
    }

    private void removeSlot(Memslot s) {
        slotsById.remove(s.slot());
        if (s.addressSpace() == 0) slotsByGpa.remove(s.gpa(), s);
    }

    /** The address-space-0 memslot containing {@code gpa}, or null. Callers hold the model lock. */
    Memslot slotAt(long gpa) {
        Map.Entry<Long, Memslot> e = slotsByGpa.floorEntry(gpa);
        return e != null && e.getValue().contains(gpa) ? e.getValue() : null;
    }

    // ---- VM-wide attributes (§4.1) ----

    @Override public void setMemoryAttributes(MemoryAttributes a) {
        String op = SET_MEMORY_ATTRIBUTES;
        ensureOpen(op);
        // arm64 has no generic memory attributes: the ioctl falls to kvm_arch_vm_ioctl, which answers -EINVAL.
        if (!rules.isX86()) throw new KvmException(op, Errno.EINVAL, "no memory attributes on arm64");
        // Built without CONFIG_KVM_VM_MEMORY_ATTRIBUTES: x86's kvm_arch_vm_ioctl answers an unknown ioctl -ENOTTY.
        if (!rules.vmMemoryAttributesBuilt()) throw new KvmException(op, Errno.ENOTTY,
                "kernel built without CONFIG_KVM_VM_MEMORY_ATTRIBUTES: attributes live in each guest_memfd");
        if (a.flags() != 0) throw new KvmException(op, Errno.EINVAL, "flags must be 0");
        // kvm_supported_vm_mem_attributes: nothing in the in-place mode, so PRIVATE is EINVAL there (0 passes).
        if ((a.attributes() & ~rules.vmWideMemAttributes(type)) != 0)
            throw new KvmException(op, Errno.EINVAL, "attributes 0x" + Long.toHexString(a.attributes())
                    + (rules.inPlace() ? " not taken VM-wide in the in-place mode (attributes live in each guest_memfd)"
                            : " not supported by a " + VmType.name(type) + " VM"));
        if (a.size() == 0 || Long.compareUnsigned(a.address() + a.size(), a.address()) < 0)
            throw new KvmException(op, Errno.EINVAL, "size 0 or address + size overflows");
        if (a.address() % page != 0 || a.size() % page != 0)
            throw new KvmException(op, Errno.EINVAL, "address or size not page aligned");
        host.faults().check(op);
        long first = Long.divideUnsigned(a.address(), page);
        long end = first + Long.divideUnsigned(a.size(), page);
        synchronized (host.lock) {
            if ((a.attributes() & MemoryAttribute.PRIVATE) != 0) privateGfns.add(first, end);
            else privateGfns.remove(first, end);
            // No memslot lies above 2^52 (x86), so a range reaching beyond it is cut there (it cannot overflow: checked above).
            long limit = 1L << KernelRules.X86_PHYS_BITS;
            if (encrypted != null && Long.compareUnsigned(a.address(), limit) < 0)
                encrypted.vmAttributesChanged(a.address(), Long.compareUnsigned(a.address() + a.size(), limit) > 0
                        ? limit : a.address() + a.size());
        }
    }

    // ---- caps, encryption, attributes, vCPUs ----

    @Override public void enableCap(EnableCap cap) {
        String op = "KVM_ENABLE_CAP";
        ensureOpen(op);
        if (cap.flags() != 0) throw new KvmException(op, Errno.EINVAL, "flags must be 0");
        if (rules.isX86() && cap.cap() == KvmCap.EXIT_HYPERCALL.number()) {
            long mask = cap.args()[0];
            if ((mask & ~KernelRules.EXIT_HYPERCALL_VALID_MASK) != 0)
                throw new KvmException(op, Errno.EINVAL, "hypercall mask 0x" + Long.toHexString(mask)
                        + " outside 0x" + Long.toHexString(KernelRules.EXIT_HYPERCALL_VALID_MASK));
            host.faults().check(op);
            hypercallExits = mask;
            return;
        }
        if (!rules.isX86() && cap.cap() == KvmCap.EXIT_HYPERCALL.number() && PkvmRules.exitHypercallMask(rules) != 0) {
            // arm64 (pKVM guest_memfd series): args[0] a subset of MEM_SHARE|MEM_UNSHARE, args[1..3] zero.
            long[] args = cap.args();
            long valid = PkvmRules.exitHypercallMask(rules);
            if ((args[0] & ~valid) != 0) throw new KvmException(op, Errno.EINVAL, "hypercall mask 0x"
                    + Long.toHexString(args[0]) + " outside 0x" + Long.toHexString(valid));
            if (args[1] != 0 || args[2] != 0 || args[3] != 0)
                throw new KvmException(op, Errno.EINVAL, "args[1..3] must be 0");
            host.faults().check(op);
            hypercallExits = args[0];
            return;
        }
        throw new KvmException(op, Errno.EINVAL, "capability " + cap.cap() + " cannot be enabled on this VM");
    }

    boolean hypercallExitEnabled(long nr) { return (hypercallExits & (1L << nr)) != 0; }

    @Override public long memoryEncryptOp(SevCommand command) {
        String op = "KVM_MEMORY_ENCRYPT_OP";
        ensureOpen(op);
        if (!rules.isX86()) throw new KvmException(op, Errno.EINVAL, "no KVM_MEMORY_ENCRYPT_OP on arm64");
        // sev_mem_enc_ioctl serves every VM of an SEV host; elsewhere the command goes to another vendor's handler.
        if (rules.hardware() != SimHardware.AMD_SNP) {
            if (tdx != null) throw new KvmException(op, Errno.EINVAL, "a kvm_sev_cmd is no TDX command this TD knows");
            throw new KvmException(op, Errno.ENOTTY, "not an SEV host");
        }
        synchronized (host.lock) {
            // Once INIT2 has made the VM an SNP guest, only SNP commands are allowed.
            if (sevInitialized && type == VmType.X86_SNP && command.id() < SevCommand.SNP_LAUNCH_START)
                throw new KvmException(op, Errno.EPERM, "SNP guests accept only SNP commands");
            if (command.id() == SevCommand.INIT2) return sevInit2(command.data());
            if (command.id() > SevCommand.SNP_LAUNCH_FINISH || command.id() < 0)
                throw new KvmException(op, Errno.EINVAL, "unknown SEV command " + command.id());
            // Before KVM_SEV_INIT2 the VM is no SEV guest: most commands answer ENOTTY, snp_launch_update EINVAL.
            if (!sevInitialized) throw new KvmException(op, command.id() == SevCommand.SNP_LAUNCH_UPDATE ? Errno.EINVAL
                    : Errno.ENOTTY, "SEV context not initialised (KVM_SEV_INIT2 first)");
            if (snp != null) return snp.command(command);
            // An SEV or SEV-ES VM: snp_launch_start and snp_launch_finish answer ENOTTY, snp_launch_update EINVAL.
            if (command.id() == SevCommand.SNP_LAUNCH_START || command.id() == SevCommand.SNP_LAUNCH_FINISH)
                throw new KvmException(op, Errno.ENOTTY, "not an SNP VM");
            if (command.id() == SevCommand.SNP_LAUNCH_UPDATE) throw new KvmException(op, Errno.EINVAL, "not an SNP VM");
            throw new KvmException(op, Errno.EINVAL, "SEV command " + command.id() + " is not modelled");
        }
    }

    /** KVM_SEV_INIT2 (§5.2): struct kvm_sev_init { u64 vmsa_features; u32 flags; u16 ghcb_version; ... } (48 bytes). */
    private long sevInit2(byte[] data) {
        String op = "KVM_MEMORY_ENCRYPT_OP";
        if (data == null || data.length < 48) throw new KvmException(op, Errno.EFAULT, "kvm_sev_init needs 48 bytes");
        long vmsaFeatures = le(data, 0, 8);
        long flags = le(data, 8, 4);
        long ghcbVersion = le(data, 12, 2);
        // sev_guest_init2: only the SEV VM types are SEV guests to initialise.
        if (!rules.isSevType(type)) throw new KvmException(op, Errno.EINVAL, VmType.name(type) + " VMs are not SEV guests");
        if (!vcpus.isEmpty()) throw new KvmException(op, Errno.EINVAL, "INIT2 after vCPUs were created");
        if (flags != 0) throw new KvmException(op, Errno.EINVAL, "flags must be 0");
        if (type != VmType.X86_SNP) vmsaFeatures &= ~KernelRules.SEV_FEAT_SNP_ACTIVE;
        long valid = type == VmType.X86_SEV ? 0 : KernelRules.SEV_VMSA_FEATURES;
        if ((vmsaFeatures & ~valid) != 0) throw new KvmException(op, Errno.EINVAL,
                "vmsa_features 0x" + Long.toHexString(vmsaFeatures) + " not in 0x" + Long.toHexString(valid));
        if (ghcbVersion > 2 || (type == VmType.X86_SEV && ghcbVersion != 0))
            throw new KvmException(op, Errno.EINVAL, "ghcb_version " + ghcbVersion + " not supported");
        if (sevInitialized) throw new KvmException(op, Errno.EINVAL, "SEV context already initialised");
        sevInitialized = true;
        if (type == VmType.X86_SNP) snp = new SnpFirmware(this, vmsaFeatures | KernelRules.SEV_FEAT_SNP_ACTIVE);
        return 0;
    }

    private static long le(byte[] b, int off, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | (b[off + i] & 0xff);
        return v;
    }

    @Override public long memoryEncryptOp(org.janus.kvm.api.TdxCommand command) {
        String op = "KVM_MEMORY_ENCRYPT_OP";
        ensureOpen(op);
        // The same ioctl reaches whatever memory-encryption handler the host has; the struct's first word is the id.
        if (!rules.isX86()) throw new KvmException(op, Errno.EINVAL, "no KVM_MEMORY_ENCRYPT_OP on arm64");
        if (rules.hardware() == SimHardware.AMD_SNP) return memoryEncryptOp(new SevCommand(command.id(), command.data(), null));
        if (!rules.tdxAvailable()) throw new KvmException(op, Errno.ENOTTY, "no TDX in this kernel on this host");
        if (tdx == null) throw new KvmException(op, Errno.ENOTTY, "not a TD (vt_mem_enc_ioctl serves TDX VMs only)");
        synchronized (host.lock) {
            return tdx.vmCommand(command);
        }
    }

    /**
     * KVM_MEMORY_ENCRYPT_OP(NULL): kvm_arch_vm_ioctl hands it to the vendor module's mem_enc_ioctl, or answers ENOTTY
     * without one. sev_mem_enc_ioctl answers ENOTTY without SEV and then 0 for a NULL argument, before it looks at the
     * VM; vt_mem_enc_ioctl answers ENOTTY for a VM that is not a TD, and a TD's handler copies the command first
     * (EFAULT). arm64 has no such VM ioctl (kvm_arch_vm_ioctl's default: EINVAL).
     */
    @Override public void memoryEncryptOpProbe() {
        String op = "KVM_MEMORY_ENCRYPT_OP";
        ensureOpen(op);
        if (!rules.isX86()) throw new KvmException(op, Errno.EINVAL, "no KVM_MEMORY_ENCRYPT_OP on arm64");
        if (rules.hardware() == SimHardware.AMD_SNP) return;
        if (tdx != null) throw new KvmException(op, Errno.EFAULT, "the TDX handler cannot read a kvm_tdx_cmd at NULL");
        throw new KvmException(op, Errno.ENOTTY, rules.tdxAvailable() ? "not a TD" : "no memory-encryption handler on this host");
    }

    @Override public long getDeviceAttr(DeviceAttr attr) {
        ensureOpen("KVM_GET_DEVICE_ATTR");
        throw new KvmException("KVM_GET_DEVICE_ATTR", Errno.ENXIO, "no VM attribute group " + attr.group() + " modelled");
    }

    @Override public boolean hasDeviceAttr(DeviceAttr attr) {
        ensureOpen("KVM_HAS_DEVICE_ATTR");
        return false;
    }

    // ---- interrupt controller, timer and the Intel real-mode helpers ----

    @Override public void createIrqchip() {
        ensureOpen(SimIrqchip.CREATE_IRQCHIP);
        synchronized (host.lock) {
            irqchip.create(!vcpusCreated.isEmpty(), host.faults());
        }
    }

    @Override public void createPit2(int flags) {
        ensureOpen(SimIrqchip.CREATE_PIT2);
        synchronized (host.lock) {
            irqchip.createPit2(flags, host.faults());
        }
    }

    @Override public void irqLine(int irq, boolean level) {
        ensureOpen(SimIrqchip.IRQ_LINE);
        synchronized (host.lock) {
            irqchip.irqLine(irq, level, vcpus::containsKey);
        }
    }

    @Override public void setTssAddr(long address) {
        ensureOpen(SimIrqchip.SET_TSS_ADDR);
        synchronized (host.lock) {
            irqchip.setTssAddr(address);
        }
    }

    @Override public void setIdentityMapAddr(long address) {
        ensureOpen(SimIrqchip.SET_IDENTITY_MAP_ADDR);
        synchronized (host.lock) {
            irqchip.setIdentityMapAddr(address, !vcpusCreated.isEmpty());
        }
    }

    @Override public KvmVcpu createVcpu(int vcpuId) {
        String op = "KVM_CREATE_VCPU";
        ensureOpen(op);
        int maxIds = rules.maxVcpuIds();
        synchronized (host.lock) {
            if (vcpuId < 0 || vcpuId >= maxIds) throw new KvmException(op, Errno.EINVAL, "vCPU id " + vcpuId + " out of range");
            if (vcpus.size() >= rules.maxVcpus()) throw new KvmException(op, Errno.EINVAL, "too many vCPUs");
            // tdx_vcpu_create (in kvm_arch_vcpu_create, before the duplicate-id check): only an initialised TD.
            if (tdx != null && tdx.state() != TdxModule.State.INITIALIZED) throw new KvmException(op, Errno.EIO,
                    tdx.state() == TdxModule.State.UNINITIALIZED ? "KVM_TDX_INIT_VM has not run" : "the TD is finalized");
            if (vcpus.containsKey(vcpuId)) throw new KvmException(op, Errno.EEXIST, "vCPU " + vcpuId + " exists");
            host.faults().check(op);
            SimVcpuImpl v = new SimVcpuImpl(this, vcpuId);
            // A TD's register state belongs to the TDX module unless the TD is debuggable (guest_state_protected).
            if (tdx != null && (tdx.attributes() & TdxModule.ATTR_DEBUG) == 0) v.protectState();
            vcpus.put(vcpuId, v);
            vcpusCreated.add(v);
            return v;
        }
    }

    /** The vCPUs in the order they were created. Callers hold the model lock. */
    List<SimVcpuImpl> vcpusInCreationOrder() { return List.copyOf(vcpusCreated); }

    /** kvm->arch.pre_fault_allowed: SNP allows KVM_PRE_FAULT_MEMORY only after LAUNCH_FINISH. */
    boolean preFaultAllowed() {
        synchronized (host.lock) {
            if (tdx != null) return tdx.state() == TdxModule.State.RUNNABLE;
            return type != VmType.X86_SNP && type != VmType.X86_TDX || snp != null && snp.finished();
        }
    }

    @Override public Optional<byte[]> snpLaunchDigest() {
        synchronized (host.lock) {
            return snp != null && snp.finished() ? Optional.of(snp.launchDigest()) : Optional.empty();
        }
    }

    @Override public Optional<byte[]> tdxMrtd() {
        synchronized (host.lock) {
            return tdx == null ? Optional.empty() : Optional.ofNullable(tdx.mrtd());
        }
    }

    /** The TD's shared GPA bit once KVM_TDX_INIT_VM has set the GPAW; 0 for other VMs. */
    long tdxSharedBit() {
        synchronized (host.lock) {
            return tdx == null ? 0 : tdx.sharedBit();
        }
    }

    /** Closing a vCPU fd does not destroy the vCPU: KVM keeps it, and its id, until the VM goes. */
    void vcpuClosed(SimVcpuImpl v) {}

    /** The VM has started running (KVM_RUN on any vCPU): pKVM then freezes its memslots. */
    void markRan() { ran = true; }

    boolean isProtectedPvm() { return PkvmRules.isProtected(rules, type); }

    @Override public void close() {
        ArrayList<SimVcpuImpl> toClose;
        synchronized (host.lock) {
            if (!open) return;
            open = false;
            toClose = new ArrayList<>(vcpus.values());
        }
        toClose.forEach(SimVcpuImpl::close);
        synchronized (host.lock) {
            vcpus.clear();
            vcpusCreated.clear();
            slotsById.clear();
            slotsByGpa.clear();
            privateGfns.remove(0, Long.MAX_VALUE);
        }
    }

    // ---- guest memory access ----

    /** Why a guest access within one page could not complete: an exit to userspace, or KVM_RUN failing. */
    sealed interface Stop {
        record Fault(VcpuExit.MemoryFault exit) implements Stop {}

        record Mmio() implements Stop {}

        record RunFails(KvmException error) implements Stop {}

        /** The hardware raises an exception inside the guest (#VC, #VE); the VMM sees nothing. */
        record Raise(org.janus.kvm.api.program.GuestCpuException exception) implements Stop {}
    }

    private static final Stop MMIO = new Stop.Mmio();

    /** The model's own view of {@code gpa}: whether KVM would treat it as private now. */
    @Override public boolean isPrivate(long gpa) {
        synchronized (host.lock) {
            return attributePrivate(gpa, slotAt(gpa));
        }
    }

    /** The PRIVATE attribute KVM consults for {@code gpa} (kvm_mem_is_private): VM-wide, or the guest_memfd's in-place. */
    boolean attributePrivate(long gpa, Memslot slot) {
        if (!rules.inPlace()) return privateGfns.contains(gpa / page);
        // In-place: the attribute lives in the guest_memfd; without one (or without a slot) the GPA is shared (§4.4).
        return slot != null && slot.gmem() != null && !slot.gmem().isReleased()
                && slot.gmem().isPrivateAt(slot.gmemOffsetOf(gpa));
    }

    /**
     * Performs a guest access of [gpa, gpa + length) within one page, or returns why the vCPU must stop.
     *
     * @param requestPrivate the access kind the guest chose (SNP C-bit, TDX shared bit), null for a plain access
     */
    Stop accessPage(long gpa, byte[] buf, int bufOffset, int length, boolean write, Boolean requestPrivate) {
        synchronized (host.lock) {
            Memslot slot = slotAt(gpa);
            boolean attrPrivate = attributePrivate(gpa, slot);
            boolean accessPrivate;
            if (rules.guestChoosesAccessKind(type)) accessPrivate = requestPrivate == null || requestPrivate;
            else if (type == VmType.X86_SW_PROTECTED && rules.isX86()) accessPrivate = attrPrivate; // KVM derives it
            else if (PkvmRules.isProtected(rules, type)) accessPrivate = attrPrivate; // the hypervisor knows the page
            else accessPrivate = false;
            long pageGpa = gpa - Math.floorMod(gpa, page);
            // An access whose kind mismatches the attribute is an implicit conversion request (§1.5.1).
            if (accessPrivate != attrPrivate) return memoryFault(accessPrivate, pageGpa);
            if (accessPrivate) {
                // Private memory comes only from guest_memfd; a deleted slot or one without it faults (§8).
                if (slot == null || slot.gmem() == null || slot.gmem().isReleased()) return memoryFault(true, pageGpa);
                if (encrypted != null) {
                    Stop refused = encrypted.beforeGuestAccess(slot, gpa);
                    if (refused != null) return refused;
                }
                gmemAccess(slot, gpa, buf, bufOffset, length, write);
                return null;
            }
            if (slot == null) return MMIO;
            if (write && slot.readonly()) return MMIO;
            if (slot.gmemOnly()) {
                // gmem-only slot: shared faults are served from guest_memfd too; userspace_addr is ignored (§3.3).
                if (slot.gmem().isReleased()) return memoryFault(false, pageGpa);
                gmemAccess(slot, gpa, buf, bufOffset, length, write);
                return null;
            }
            long hva = slot.userspaceAddr() + (gpa - slot.gpa());
            NativeMapping m = host.addresses().find(hva, length);
            if (m == null) return new Stop.RunFails(new KvmException("KVM_RUN", Errno.EFAULT,
                    "no host mapping at userspace address 0x" + Long.toHexString(hva) + " (GPA 0x" + Long.toHexString(gpa) + ")"));
            try {
                if (write) m.write(hva - m.address(), buf, bufOffset, length);
                else m.read(hva - m.address(), buf, bufOffset, length);
            } catch (KvmException e) {
                return new Stop.RunFails(new KvmException("KVM_RUN", Errno.EFAULT,
                        "host memory at 0x" + Long.toHexString(hva) + " for GPA 0x" + Long.toHexString(gpa) + " is not accessible"));
            }
            return null;
        }
    }

    /**
     * SEV-SNP PVALIDATE of the page at {@code gpa}, or why the vCPU must stop first. Like any private access, a page
     * whose attribute is shared, or that has no guest_memfd page, is a private memory fault for the VMM.
     *
     * @param result receives the instruction's return code when no stop is returned
     */
    Stop pvalidatePage(long gpa, boolean validate, long[] result) {
        synchronized (host.lock) {
            Memslot slot = privatePageFor(gpa);
            if (slot == null) return memoryFault(true, gpa - Math.floorMod(gpa, page));
            result[0] = ((EncryptedMemory.Snp) encrypted).pvalidate(slot, gpa, validate);
            return null;
        }
    }

    /**
     * TDX TDG.MEM.PAGE.ACCEPT of the pages of [gpa, end) in order, as far as it gets: to {@code end}, to a page accepted
     * already, or to a page that needs the VMM first (as {@link #pvalidatePage}), which is then the stop returned.
     *
     * @param result receives the GPA reached ({@code [0]}) and, when no stop is returned, the status of the page there
     *               ({@code [1]}: TDX_SUCCESS when {@code end} was reached)
     */
    Stop acceptPages(long gpa, long end, long[] result) {
        synchronized (host.lock) {
            long at = gpa;
            while (at < end) {
                Memslot slot = privatePageFor(at);
                if (slot == null) {
                    result[0] = at;
                    return memoryFault(true, at);
                }
                long runEnd = at + page;
                long limit = Math.min(end, slot.end());
                while (runEnd < limit && attributePrivate(runEnd, slot)) runEnd += page;
                long reached = ((EncryptedMemory.Tdx) encrypted).accept(slot, at, runEnd);
                if (reached < runEnd) {
                    result[0] = reached;
                    result[1] = org.janus.kvm.api.program.GuestCpu.TDX_PAGE_ALREADY_ACCEPTED;
                    return null;
                }
                at = runEnd;
            }
            result[0] = end;
            result[1] = org.janus.kvm.api.program.GuestCpu.TDX_SUCCESS;
            return null;
        }
    }

    /** The memslot through which a private access to {@code gpa} reaches a guest_memfd page, or null (a memory fault). */
    private Memslot privatePageFor(long gpa) {
        Memslot slot = slotAt(gpa);
        if (!attributePrivate(gpa, slot) || slot == null || slot.gmem() == null || slot.gmem().isReleased()) return null;
        return slot;
    }

    /** The address-space-0 memslots with a guest_memfd that overlap [start, end). Callers hold the model lock. */
    List<Memslot> slotsWithGuestMemfd(long start, long end) {
        List<Memslot> out = new ArrayList<>();
        Map.Entry<Long, Memslot> first = slotsByGpa.floorEntry(start);
        Long from = first != null ? first.getKey() : start;
        for (Memslot s : slotsByGpa.subMap(from, true, end, false).values())
            if (s.gmem() != null && s.end() > start && s.gpa() < end) out.add(s);
        return out;
    }

    private void gmemAccess(Memslot slot, long gpa, byte[] buf, int bufOffset, int length, boolean write) {
        long off = slot.gmemOffsetOf(gpa);
        if (write) slot.gmem().guestWrite(off, buf, bufOffset, length);
        else slot.gmem().guestRead(off, buf, bufOffset, length);
    }

    private Stop memoryFault(boolean privateAccess, long pageGpa) {
        return new Stop.Fault(new VcpuExit.MemoryFault(privateAccess ? ExitReason.MEMORY_EXIT_FLAG_PRIVATE : 0,
                pageGpa, page, Errno.EFAULT));
    }

    /**
     * KVM_PRE_FAULT_MEMORY for one page: 0 when mapped, else the errno (ENOENT without a memslot, EFAULT for a
     * private page without guest_memfd).
     */
    int preFaultPage(long gpa) {
        synchronized (host.lock) {
            Memslot slot = slotAt(gpa);
            if (slot == null) return Errno.ENOENT;
            if (attributePrivate(gpa, slot) && (slot.gmem() == null || slot.gmem().isReleased())) return Errno.EFAULT;
            return 0;
        }
    }

    @Override public String toString() { return "SimVm[" + id + ", " + VmType.name(type) + "]"; }
}
