package org.janus.kvm.sim.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.TdxCommand;
import org.janus.kvm.libc.NativeMapping;
import org.janus.kvm.sim.SimProfile;

/**
 * One TD of the software KVM: KVM's TDX code (arch/x86/kvm/vmx/tdx.c, Linux 6.16 and later) for the sub-commands of
 * KVM_MEMORY_ENCRYPT_OP, and the TDX module behind it with the TD's build state and its MRTD. Created with every
 * KVM_X86_TDX_VM; every method runs under the model lock.
 *
 * <p>The order KVM enforces: KVM_TDX_CAPABILITIES at any time; KVM_TDX_INIT_VM once, before any vCPU (KVM_CREATE_VCPU
 * fails with EIO until it has run); KVM_TDX_INIT_VCPU once per vCPU; KVM_TDX_INIT_MEM_REGION on a vCPU whose
 * INIT_VCPU has run; KVM_TDX_FINALIZE_VM once; after it every command but CAPABILITIES answers EINVAL. Errors are the
 * kernel's: argument and state checks EINVAL, unreadable structs EFAULT, a CPUID array KVM cannot take E2BIG, and
 * what the TDX module refuses at TDH.MNG.INIT EINVAL with its status in kvm_tdx_cmd.hw_error.
 *
 * <p>MRTD is computed as the TDX module computes it: one SHA-384 over 128-byte records, started by TDH.MNG.INIT and
 * closed by TDH.MR.FINALIZE. TDH.MEM.PAGE.ADD of a page adds a record holding "MEM.PAGE.ADD" (the name padded to 16
 * bytes) and the page's GPA (a u64 at offset 16), the rest zero; with KVM_TDX_MEASURE_MEMORY_REGION KVM then issues
 * TDH.MR.EXTEND for each 256-byte chunk of the page, each adding a record with "MR.EXTEND" and the chunk's GPA
 * followed by the chunk's 256 bytes (TDX module ABI, sha384_128B_block_t; the module's tdh_mem_page_add and
 * tdh_mr_extend).
 */
final class TdxModule {
    static final String OP = "KVM_MEMORY_ENCRYPT_OP";
    static final int PAGE = 4096;

    // What this modelled TDX module and KVM offer (KVM_TDX_CAPABILITIES).
    /** TDX_TD_ATTR_DEBUG: off-TD debug. KVM does not offer it (KVM_SUPPORTED_TDX_TD_ATTRS). */
    static final long ATTR_DEBUG = 1L;
    /** TDX_TD_ATTR_SEPT_VE_DISABLE: the only attribute KVM supports. */
    static final long ATTR_SEPT_VE_DISABLE = 1L << 28;
    static final long SUPPORTED_ATTRS = ATTR_SEPT_VE_DISABLE;
    /** XFAM bits the module requires (x87 and SSE state); KVM adds them itself. */
    static final long XFAM_FIXED1 = 0x3;
    /** XFAM bits the module allows at all. */
    static final long XFAM_FIXED0 = 0x6dbe7;
    /** kvm_caps.supported_xcr0 | supported_xss, limited by the module: the host's XCR0 features. */
    static final long SUPPORTED_XFAM = KernelRules.XCOMP_GUEST_SUPP & XFAM_FIXED0;
    /** TDX_OPERAND_INVALID on operand RDX (TD_PARAMS), what TDH.MNG.INIT answers for a CPUID value it refuses. */
    static final long TDX_OPERAND_INVALID_RDX = 0xC000010000000000L | 2;

    /**
     * The module's CPUID_CONFIG: the leaves userspace may configure and, in each register, the bits it may set
     * (KVM_TDX_CAPABILITIES reports them, with CPUID 0x80000008.EAX[23:16] reported as 0xff because KVM takes the
     * GPAW from there). A value bit outside its mask is refused at TDH.MNG.INIT.
     */
    static final List<CpuidEntry> CPUID_CONFIG = List.of(
            new CpuidEntry(0x1, 0, 0, 0, 0, 0xfffffffe, 0xffffffff),
            new CpuidEntry(0x7, 0, 0, 0, 0xfffff7ef, 0xffffffdf, 0xffffffff),
            new CpuidEntry(0x80000001, 0, 0, 0, 0, 0xffffffff, 0xffffffff),
            new CpuidEntry(0x80000008, 0, 0, 0x0000ffff, 0, 0, 0));

    // Struct sizes (kvm-uapi §6.2).
    static final int CAPABILITIES_SIZE = 2056;
    static final int CAPABILITIES_CPUID = 2048;
    static final int INIT_VM_SIZE = 264;
    static final int INIT_VM_CPUID = 256;
    static final int CPUID_ENTRY_SIZE = 40;
    static final int INIT_MEM_REGION_SIZE = 24;

    /** CPUID.7.0: EBX HLE (4) and RTM (11), ECX WAITPKG (5): KVM refuses them for a TD (tdx_unsupported_cpuid). */
    private static final int TSX_BITS = (1 << 4) | (1 << 11);
    private static final int WAITPKG = 1 << 5;
    /**
     * A call of KVM_TDX_INIT_MEM_REGION with more pages than this left is interrupted after them with EINTR, as by a
     * signal (the kernel checks signal_pending before each page and reports how far it got), so that callers meet
     * the retry the API documents on every run.
     */
    static final int PAGES_BEFORE_SIGNAL = 256;

    enum State { UNINITIALIZED, INITIALIZED, RUNNABLE }

    private final SimVm vm;
    private State state = State.UNINITIALIZED;
    private long attributes;
    private long xfam;
    private int gpaw;
    private MessageDigest mrtdContext;
    private byte[] mrtd;
    /** GFNs added with TDH.MEM.PAGE.ADD. */
    private final PageRanges added = new PageRanges();
    /** vCPU ids whose KVM_TDX_INIT_VCPU has run, with the RCX they were given. */
    private final Map<Integer, Long> initializedVcpus = new HashMap<>();
    private long pagesAdded;
    private long pagesExtended;

    TdxModule(SimVm vm) { this.vm = vm; }

    State state() { return state; }

    /** The shared GPA bit of this TD (bit 47 with GPAW 48, bit 51 with GPAW 52), or 0 before KVM_TDX_INIT_VM. */
    long sharedBit() { return gpaw == 0 ? 0 : 1L << (gpaw - 1); }

    int gpaw() { return gpaw; }

    long attributes() { return attributes; }

    boolean vcpuInitialized(int id) { return initializedVcpus.containsKey(id); }

    /** The initial RCX KVM_TDX_INIT_VCPU gave a vCPU (the TD HOB's address for TDVF). */
    Long initialRcx(int id) { return initializedVcpus.get(id); }

    /** MRTD, once KVM_TDX_FINALIZE_VM has succeeded. */
    byte[] mrtd() { return mrtd == null ? null : mrtd.clone(); }

    long pagesAdded() { return pagesAdded; }

    long pagesExtended() { return pagesExtended; }

    // ---- VM scope: tdx_vm_ioctl ----

    long vmCommand(TdxCommand cmd) {
        if (cmd.id() == TdxCommand.CAPABILITIES) return capabilities(cmd);
        return switch (cmd.id()) {
            case TdxCommand.INIT_VM -> initVm(cmd);
            case TdxCommand.FINALIZE_VM -> finalizeVm();
            default -> throw kernel(Errno.EINVAL, TdxCommand.name(cmd.id()) + " is not a VM-scope TDX command");
        };
    }

    /** KVM_TDX_CAPABILITIES: the attributes, XFAM and CPUID bits a TD may have; allowed at any time. */
    private long capabilities(TdxCommand cmd) {
        if (cmd.flags() != 0) throw kernel(Errno.EINVAL, "flags must be 0");
        byte[] d = cmd.data();
        if (d == null || d.length < CAPABILITIES_SIZE) throw kernel(Errno.EFAULT, "cannot read cpuid.nent of kvm_tdx_capabilities");
        long nent = le(d, CAPABILITIES_CPUID, 4);
        if (nent < CPUID_CONFIG.size()) throw kernel(Errno.E2BIG, "cpuid.nent " + nent + " is smaller than the "
                + CPUID_CONFIG.size() + " configurable CPUID leaves");
        if (d.length < CAPABILITIES_SIZE + CPUID_CONFIG.size() * CPUID_ENTRY_SIZE)
            throw kernel(Errno.EFAULT, "cannot write " + CPUID_CONFIG.size() + " CPUID entries after kvm_tdx_capabilities");
        checkInjected("KVM_TDX_CAPABILITIES");
        java.util.Arrays.fill(d, 0, CAPABILITIES_SIZE, (byte) 0);
        put(d, 0, SUPPORTED_ATTRS);
        put(d, 8, SUPPORTED_XFAM);
        // user_tdvmcallinfo_1_r11: TDVMCALLINFO_SETUP_EVENT_NOTIFY_INTERRUPT, which userspace must handle.
        put(d, 24, 1L << 1);
        put32(d, CAPABILITIES_CPUID, CPUID_CONFIG.size());
        for (int i = 0; i < CPUID_CONFIG.size(); i++) {
            CpuidEntry e = CPUID_CONFIG.get(i);
            int eax = e.function() == 0x80000008 ? (e.eax() & ~0xff0000) | 0xff0000 : e.eax();
            writeEntry(d, CAPABILITIES_SIZE + i * CPUID_ENTRY_SIZE, new CpuidEntry(e.function(), e.index(), 0, eax, e.ebx(), e.ecx(), e.edx()));
        }
        return 0;
    }

    /** KVM_TDX_INIT_VM (tdx_td_init, setup_tdparams, TDH.MNG.INIT). */
    private long initVm(TdxCommand cmd) {
        if (state != State.UNINITIALIZED) throw kernel(Errno.EINVAL, "KVM_TDX_INIT_VM has already run for this TD");
        if (cmd.flags() != 0) throw kernel(Errno.EINVAL, "flags must be 0");
        byte[] d = cmd.data();
        if (d == null || d.length < INIT_VM_SIZE) throw kernel(Errno.EFAULT, "cannot read kvm_tdx_init_vm (264 bytes)");
        long nent = le(d, INIT_VM_CPUID, 4);
        if (nent > KernelRules.MAX_CPUID_ENTRIES) throw kernel(Errno.E2BIG, "cpuid.nent " + nent + " exceeds KVM_MAX_CPUID_ENTRIES ("
                + KernelRules.MAX_CPUID_ENTRIES + ")");
        if (d.length < INIT_VM_SIZE + nent * CPUID_ENTRY_SIZE) throw kernel(Errno.EFAULT, "cannot read " + nent + " CPUID entries");
        for (int off = 160; off < INIT_VM_CPUID; off++)
            if (d[off] != 0) throw kernel(Errno.EINVAL, "reserved bytes of kvm_tdx_init_vm must be 0");
        if (le(d, INIT_VM_CPUID + 4, 4) != 0) throw kernel(Errno.EINVAL, "cpuid.padding must be 0");
        if (!vm.vcpusInCreationOrder().isEmpty()) throw kernel(Errno.EBUSY, "vCPUs exist already");
        long attrs = le(d, 0, 8);
        long xfamIn = le(d, 8, 8);
        if ((attrs & ~SUPPORTED_ATTRS) != 0) throw kernel(Errno.EINVAL, String.format(
                "attributes 0x%x not in the supported 0x%x", attrs, SUPPORTED_ATTRS));
        if ((xfamIn & ~SUPPORTED_XFAM) != 0) throw kernel(Errno.EINVAL, String.format(
                "xfam 0x%x not in the supported 0x%x", xfamIn, SUPPORTED_XFAM));
        CpuidEntry[] entries = new CpuidEntry[(int) nent];
        for (int i = 0; i < nent; i++) entries[i] = readEntry(d, INIT_VM_SIZE + i * CPUID_ENTRY_SIZE);
        // setup_tdparams_eptp_controls: the GPAW comes from CPUID 0x80000008.EAX[23:16], 48 or 52 (5-level EPT here).
        CpuidEntry phys = find(entries, 0x80000008, 0);
        if (phys == null) throw kernel(Errno.EINVAL, "no CPUID 0x80000008 entry: KVM takes the GPAW from its EAX[23:16]");
        int guestPa = (phys.eax() >>> 16) & 0xff;
        if (guestPa != 48 && guestPa != 52) throw kernel(Errno.EINVAL, "GPAW " + guestPa + " (CPUID 0x80000008.EAX[23:16]) is not 48 or 52");
        // setup_tdparams_cpuids: every entry must be a configurable leaf, none may claim TSX or WAITPKG.
        int copied = 0;
        long hwError = 0;
        for (CpuidEntry config : CPUID_CONFIG) {
            CpuidEntry e = find(entries, config.function(), config.index());
            if (e == null) continue;
            if (e.function() == 7 && e.index() == 0 && ((e.ebx() & TSX_BITS) != 0 || (e.ecx() & WAITPKG) != 0))
                throw kernel(Errno.EINVAL, "CPUID 7.0 claims TSX or WAITPKG, which KVM does not support in a TD");
            copied++;
            int eax = e.function() == 0x80000008 ? e.eax() & ~0xff0000 : e.eax();
            if ((eax & ~config.eax()) != 0 || (e.ebx() & ~config.ebx()) != 0 || (e.ecx() & ~config.ecx()) != 0
                    || (e.edx() & ~config.edx()) != 0)
                hwError = TDX_OPERAND_INVALID_RDX;
        }
        if (copied != nent) throw kernel(Errno.EINVAL, (nent - copied) + " CPUID entries are not leaves the TDX module lets"
                + " userspace configure");
        checkInjected("KVM_TDX_INIT_VM");
        if (hwError != 0) throw new KvmException(OP, Errno.EINVAL, KvmException.NONE, hwError,
                "TDH.MNG.INIT refused a CPUID value with bits outside the TDX module's configurable bits");
        attributes = attrs;
        xfam = xfamIn | XFAM_FIXED1;
        gpaw = guestPa;
        mrtdContext = sha384();
        state = State.INITIALIZED;
        return 0;
    }

    /** KVM_TDX_FINALIZE_VM (tdx_td_finalize, TDH.MR.FINALIZE). */
    private long finalizeVm() {
        if (state != State.INITIALIZED) throw kernel(Errno.EINVAL, state == State.RUNNABLE
                ? "the TD is already finalized" : "KVM_TDX_INIT_VM has not run");
        checkInjected("KVM_TDX_FINALIZE_VM");
        mrtd = mrtdContext.digest();
        state = State.RUNNABLE;
        return 0;
    }

    // ---- vCPU scope: tdx_vcpu_unlocked_ioctl, tdx_vcpu_ioctl ----

    long vcpuCommand(SimVcpuImpl vcpu, TdxCommand cmd) {
        if (state != State.INITIALIZED) throw kernel(Errno.EINVAL, state == State.RUNNABLE
                ? "the TD is finalized; its vCPUs take no more TDX commands" : "KVM_TDX_INIT_VM has not run");
        return switch (cmd.id()) {
            case TdxCommand.INIT_VCPU -> initVcpu(vcpu, cmd);
            case TdxCommand.INIT_MEM_REGION -> initMemRegion(vcpu, cmd);
            default -> throw kernel(Errno.EINVAL, TdxCommand.name(cmd.id()) + " is not a vCPU-scope TDX command");
        };
    }

    /** KVM_TDX_INIT_VCPU (tdx_vcpu_init, TDH.VP.CREATE, TDH.VP.INIT with the initial RCX). */
    private long initVcpu(SimVcpuImpl vcpu, TdxCommand cmd) {
        if (cmd.flags() != 0) throw kernel(Errno.EINVAL, "flags must be 0");
        if (initializedVcpus.containsKey(vcpu.id())) throw kernel(Errno.EINVAL, "vCPU " + vcpu.id() + " is already initialized");
        checkInjected("KVM_TDX_INIT_VCPU");
        initializedVcpus.put(vcpu.id(), cmd.value());
        return 0;
    }

    /**
     * KVM_TDX_INIT_MEM_REGION (tdx_vcpu_init_mem_region): one page at a time through kvm_gmem_populate, TDH.MEM.PAGE.ADD
     * and, with KVM_TDX_MEASURE_MEMORY_REGION, TDH.MR.EXTEND. The struct is written back with the pages done, also
     * when a page fails.
     */
    private long initMemRegion(SimVcpuImpl vcpu, TdxCommand cmd) {
        if (!initializedVcpus.containsKey(vcpu.id())) throw kernel(Errno.EINVAL, "vCPU " + vcpu.id()
                + " has not been through KVM_TDX_INIT_VCPU");
        if ((cmd.flags() & ~TdxCommand.MEASURE_MEMORY_REGION) != 0) throw kernel(Errno.EINVAL, "flags 0x"
                + Integer.toHexString(cmd.flags()) + " other than KVM_TDX_MEASURE_MEMORY_REGION");
        byte[] d = cmd.data();
        if (d == null || d.length < INIT_MEM_REGION_SIZE) throw kernel(Errno.EFAULT, "cannot read kvm_tdx_init_mem_region (24 bytes)");
        long source = le(d, 0, 8);
        long gpa = le(d, 8, 8);
        long pages = le(d, 16, 8);
        boolean inPlace = vm.rules().inPlace();
        long end = gpa + (pages << 12);
        long shared = sharedBit();
        if (source % PAGE != 0 || gpa % PAGE != 0 || pages == 0 || (pages >>> 40) != 0 || Long.compareUnsigned(end, gpa) <= 0
                || (gpa & shared) != 0 || ((end - 1) & shared) != 0 || (source == 0 && vm.rules().profile() == SimProfile.K7_3))
            throw kernel(Errno.EINVAL, String.format("source 0x%x, GPA 0x%x, %d pages: unaligned, empty, overflowing,"
                    + " a shared GPA, or no source where only a source buffer can provide the contents", source, gpa, pages));
        // The in-place series accepts no source only where attributes live in guest_memfd (kvm_gmem_populate).
        if (source == 0 && !inPlace) throw kernel(Errno.EOPNOTSUPP,
                "source_addr 0 needs the in-place mode: guest_memfd must hold the contents itself");
        int failure = 0;
        String why = null;
        long done = 0;
        while (done < pages) {
            if (done == PAGES_BEFORE_SIGNAL) {
                failure = Errno.EINTR;
                why = "interrupted by a signal after " + done + " pages";
                break;
            }
            long at = gpa + done * PAGE;
            Memslot slot = vm.slotAt(at);
            if (slot == null || slot.gmem() == null) {
                failure = Errno.EINVAL;
                why = String.format("GPA 0x%x is not in a guest_memfd memslot", at);
            } else if (slot.gmem().isReleased()) {
                failure = Errno.EFAULT;
                why = "the memslot's guest_memfd is gone";
            } else if (added.contains(at / PAGE)) {
                failure = Errno.EEXIST;
                why = String.format("GPA 0x%x was already added to the TD", at);
            } else if (!vm.attributePrivate(at, slot)) {
                failure = Errno.EINVAL;
                why = String.format("GPA 0x%x is not PRIVATE", at);
            }
            byte[] contents = null;
            if (failure == 0 && source != 0) {
                contents = readUser(source + done * PAGE);
                if (contents == null) {
                    failure = Errno.EFAULT;
                    why = String.format("cannot read the source page at 0x%x", source + done * PAGE);
                }
            }
            if (failure == 0) {
                int injected = vm.host().faults().next("KVM_TDX_INIT_MEM_REGION");
                if (injected != 0) {
                    failure = injected;
                    why = "injected fault in KVM_TDX_INIT_MEM_REGION";
                }
            }
            if (failure != 0) break;
            long off = slot.gmemOffsetOf(at);
            if (contents != null) slot.gmem().guestWrite(off, contents, 0, PAGE);
            else {
                contents = new byte[PAGE];
                slot.gmem().guestRead(off, contents, 0, PAGE);
            }
            pageAdd(at);
            if ((cmd.flags() & TdxCommand.MEASURE_MEMORY_REGION) != 0) mrExtend(at, contents);
            added.add(at / PAGE, at / PAGE + 1);
            // TDH.MEM.PAGE.ADD maps the page in the Secure EPT with its contents, accepted: no PENDING state.
            vm.encryptedMemory().placedByFirmware(slot.gmem(), off);
            done++;
        }
        put(d, 0, source == 0 ? 0 : source + done * PAGE);
        put(d, 8, gpa + done * PAGE);
        put(d, 16, pages - done);
        if (failure != 0) throw kernel(failure, why + (done > 0 ? " (" + done + " pages added before it)" : ""));
        return 0;
    }

    // ---- MRTD ----

    /** TDH.MEM.PAGE.ADD's record: "MEM.PAGE.ADD" and the GPA. */
    private void pageAdd(long gpa) {
        mrtdContext.update(record("MEM.PAGE.ADD", gpa));
        pagesAdded++;
    }

    /** TDH.MR.EXTEND for each 256-byte chunk: "MR.EXTEND" and the chunk's GPA, then the chunk itself. */
    private void mrExtend(long gpa, byte[] page) {
        for (int chunk = 0; chunk < PAGE; chunk += 256) {
            mrtdContext.update(record("MR.EXTEND", gpa + chunk));
            mrtdContext.update(page, chunk, 256);
        }
        pagesExtended++;
    }

    private static byte[] record(String operation, long gpa) {
        byte[] r = new byte[128];
        byte[] name = operation.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(name, 0, r, 0, name.length);
        put(r, 16, gpa);
        return r;
    }

    private static MessageDigest sha384() {
        try {
            return MessageDigest.getInstance("SHA-384");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-384 is part of every Java platform", e);
        }
    }

    // ---- helpers ----

    private byte[] readUser(long address) {
        NativeMapping m = vm.host().addresses().find(address, PAGE);
        if (m == null) return null;
        try {
            return m.read(address - m.address(), PAGE);
        } catch (KvmException e) {
            return null;
        }
    }

    private void checkInjected(String operation) {
        int errno = vm.host().faults().next(operation);
        if (errno != 0) throw new KvmException(OP, errno, KvmException.NONE, 0, "injected fault in " + operation);
    }

    private static KvmException kernel(int errno, String detail) {
        return new KvmException(OP, errno, KvmException.NONE, 0, detail);
    }

    private static CpuidEntry find(CpuidEntry[] entries, int function, int index) {
        for (CpuidEntry e : entries) if (e.function() == function && e.index() == index) return e;
        return null;
    }

    private static CpuidEntry readEntry(byte[] d, int at) {
        return new CpuidEntry((int) le(d, at, 4), (int) le(d, at + 4, 4), (int) le(d, at + 8, 4), (int) le(d, at + 12, 4),
                (int) le(d, at + 16, 4), (int) le(d, at + 20, 4), (int) le(d, at + 24, 4));
    }

    private static void writeEntry(byte[] d, int at, CpuidEntry e) {
        put32(d, at, e.function());
        put32(d, at + 4, e.index());
        put32(d, at + 8, e.flags());
        put32(d, at + 12, e.eax());
        put32(d, at + 16, e.ebx());
        put32(d, at + 20, e.ecx());
        put32(d, at + 24, e.edx());
    }

    static long le(byte[] b, int off, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | (b[off + i] & 0xFF);
        return v;
    }

    static void put(byte[] b, int off, long v) {
        for (int i = 0; i < 8; i++) b[off + i] = (byte) (v >>> (8 * i));
    }

    static void put32(byte[] b, int off, int v) {
        for (int i = 0; i < 4; i++) b[off + i] = (byte) (v >>> (8 * i));
    }
}
