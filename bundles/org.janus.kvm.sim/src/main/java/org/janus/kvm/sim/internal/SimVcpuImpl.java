package org.janus.kvm.sim.internal;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.Regs;
import org.janus.kvm.api.Sregs;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.kvm.sim.SimVcpu;

/**
 * A vCPU of the software KVM. Its guest program runs on a daemon thread of its own; the thread and
 * {@link #run()} hand control back and forth through synchronous queues, so exactly one of them runs at a time,
 * as a real vCPU thread is either in the guest or in userspace.
 */
final class SimVcpuImpl implements SimVcpu {
    /** -KVM_EINVAL as the guest sees it in rax. */
    private static final long KVM_EINVAL = 22;
    /** SMCCC_RET_NOT_SUPPORTED: what an arm64 guest gets for a hypercall KVM does not know. */
    private static final long SMCCC_NOT_SUPPORTED = -1;
    /** TDX splits TDG.VP.VMCALL<MapGPA> into chunks of at most 2 MiB, one exit each (§6.4). */
    private static final long TDX_MAP_GPA_MAX_PAGES = 512;
    private static final Object RESUME = new Object();
    /** How often a waiting KVM_RUN looks whether the vCPU was closed meanwhile. */
    private static final long POLL_MS = 50;

    private sealed interface Event {
        record Exit(VcpuExit exit) implements Event {}

        record RunFailure(KvmException error) implements Event {}

        record Finished(VcpuExit exit) implements Event {}
    }

    /** Thrown into a guest thread when its vCPU is closed; not an Exception, so guest code does not catch it by accident. */
    private static final class GuestStopped extends Error {
        private static final long serialVersionUID = 1L;

        GuestStopped() { super("vCPU closed", null, false, false); }
    }

    private final SimVm vm;
    private final KernelRules rules;
    private final int id;
    private final int page;
    private final SynchronousQueue<Event> toHost = new SynchronousQueue<>();
    private final SynchronousQueue<Object> toGuest = new SynchronousQueue<>();
    private final Object runLock = new Object();
    private volatile GuestProgram program;
    private Thread thread;
    private volatile boolean closed;
    private volatile boolean immediateExit;
    /** A kick arrived: the KVM_RUN in progress returns EINTR even while the guest runs on without an exit. */
    private volatile boolean kicked;
    private boolean guestAwaitsResume;
    private boolean hypercallPending;
    private VcpuExit finalExit;
    private volatile Throwable failure;
    private volatile long hypercallRet;
    private volatile byte[] ioData;
    private volatile byte[] mmioData;
    /** kvm_vcpu_reset: RDX holds the CPU signature, KVM's default 0x600 until userspace sets the registers. */
    private volatile Regs regs = new Regs(0, 0, 0, 0x600, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfff0, 0x2);
    private volatile Sregs sregs = resetSregs();
    private volatile List<CpuidEntry> cpuid = List.of();
    /** guest_state_protected: set when SNP_LAUNCH_FINISH has encrypted this vCPU's VMSA. */
    private volatile boolean stateProtected;
    /** arm64: powered off by PSCI (KVM_MP_STATE_STOPPED); the guest thread then waits until the vCPU is closed. */
    private volatile boolean poweredOff;

    SimVcpuImpl(SimVm vm, int id) {
        this.vm = vm;
        this.rules = vm.rules();
        this.id = id;
        this.page = vm.host().pageSize();
    }

    @Override public int id() { return id; }

    @Override public void load(GuestProgram p) {
        synchronized (runLock) {
            if (thread != null) throw new IllegalStateException("vCPU " + id + " has already started running");
            program = p;
        }
    }

    @Override public Optional<Throwable> guestFailure() { return Optional.ofNullable(failure); }

    private void ensureOpen(String op) {
        if (closed) throw new KvmException(op, Errno.EBADF, "vCPU is closed");
        vm.checkAlive(op);
    }

    // ---- KVM_RUN ----

    @Override public VcpuExit run() {
        synchronized (runLock) {
            ensureOpen("KVM_RUN");
            // A KVM_RUN that fails with EINTR is an exit, as the Linux provider reports it (a signal came): the guest
            // runs on when it is run again.
            int injected = vm.host().faults().next("KVM_RUN");
            if (injected == Errno.EINTR) return new VcpuExit.Interrupted();
            if (injected != 0) throw new KvmException("KVM_RUN", injected, "injected fault (" + Errno.name(injected) + ")");
            // The first KVM_RUN creates pKVM's hypervisor VM (kvm_arch_vcpu_run_pid_change), immediate_exit or not.
            vm.markRan();
            if (immediateExit) {
                kicked = false;
                return new VcpuExit.Interrupted();
            }
            // tdx_vcpu_pre_run: a TD vCPU runs only once it is initialised and the TD finalized.
            TdxModule td = vm.tdx();
            if (td != null) {
                synchronized (vm.host().lock) {
                    if (td.state() != TdxModule.State.RUNNABLE || !td.vcpuInitialized(id)) throw new KvmException("KVM_RUN",
                            Errno.EINVAL, "a TD vCPU runs only after KVM_TDX_INIT_VCPU and KVM_TDX_FINALIZE_VM");
                }
            }
            vm.markRan();
            if (program == null) return new VcpuExit.InternalError(ExitReason.INTERNAL_ERROR_EMULATION, new long[0]);
            if (finalExit != null) return finalExit;
            if (hypercallPending && rules.guestChoosesAccessKind(vm.type())) {
                long ret = hypercallRet;
                // SNP and TDX pass only 0, EINVAL or EAGAIN on to the guest; anything else fails the next KVM_RUN.
                if (ret != 0 && ret != Errno.EINVAL && ret != Errno.EAGAIN)
                    throw new KvmException("KVM_RUN", Errno.EINVAL, "hypercall.ret " + ret + " is not 0, EINVAL or EAGAIN");
            }
            try {
                if (thread == null) {
                    thread = new Thread(this::guestMain, "janus-sim-vm" + vm.id() + "-vcpu" + id);
                    thread.setDaemon(true);
                    thread.start();
                } else if (guestAwaitsResume) {
                    while (!toGuest.offer(RESUME, POLL_MS, TimeUnit.MILLISECONDS)) ensureOpen("KVM_RUN");
                    guestAwaitsResume = false;
                }
                hypercallPending = false;
                Event e;
                while ((e = toHost.poll(POLL_MS, TimeUnit.MILLISECONDS)) == null) {
                    ensureOpen("KVM_RUN");
                    // A powered-off vCPU sleeps in KVM_RUN; the VMM's kick (a signal on the real kernel) ends the wait.
                    if (poweredOff && immediateExit) return new VcpuExit.Interrupted();
                    if (kicked) {
                        // The guest thread runs on to its next exit, which the next KVM_RUN returns.
                        kicked = false;
                        return new VcpuExit.Interrupted();
                    }
                }
                if (e instanceof Event.Exit x) {
                    guestAwaitsResume = true;
                    if (x.exit() instanceof VcpuExit.Hypercall) {
                        hypercallPending = true;
                        hypercallRet = 0;
                    }
                    return x.exit();
                }
                if (e instanceof Event.RunFailure f) {
                    guestAwaitsResume = true;
                    throw f.error();
                }
                finalExit = ((Event.Finished) e).exit();
                return finalExit;
            } catch (InterruptedException ie) {
                // A signal to the vCPU thread: KVM_RUN returns EINTR; the guest's state stays as it is.
                Thread.currentThread().interrupt();
                return new VcpuExit.Interrupted();
            }
        }
    }

    @Override public void setImmediateExit(boolean v) {
        immediateExit = v;
        // A kick that arrived outside KVM_RUN is spent, as a signal whose handler already ran.
        if (!v) kicked = false;
    }

    /** A signal to the vCPU thread on the real kernel: a KVM_RUN waiting for the guest's next exit returns EINTR. */
    @Override public void kick() {
        immediateExit = true;
        kicked = true;
    }

    @Override public void completeHypercall(long ret) { hypercallRet = ret; }

    @Override public void completeIo(byte[] data) { ioData = data.clone(); }

    @Override public void completeMmio(byte[] data) { mmioData = data.clone(); }

    // ---- the guest thread ----

    private void guestMain() {
        GuestCpu cpu = new Cpu();
        VcpuExit end;
        try {
            program.run(cpu);
            end = new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_SHUTDOWN, new long[0]);
        } catch (GuestStopped stopped) {
            return;
        } catch (Throwable t) {
            failure = t;
            end = new VcpuExit.SystemEvent(ExitReason.SYSTEM_EVENT_CRASH, new long[0]);
        }
        try {
            toHost.put(new Event.Finished(end));
        } catch (InterruptedException e) {
            // closed while reporting the end: nobody is listening
        }
    }

    /** Hands an exit to userspace and waits until KVM_RUN is called again. */
    private void await(Event e) {
        if (closed) throw new GuestStopped();
        try {
            toHost.put(e);
            toGuest.take();
        } catch (InterruptedException ie) {
            throw new GuestStopped();
        }
        if (closed) throw new GuestStopped();
    }

    private void exit(VcpuExit e) { await(new Event.Exit(e)); }

    /** Whether PSCI has powered this vCPU off (AFFINITY_INFO reports it OFF). */
    boolean poweredOff() { return poweredOff; }

    /** On the guest thread: the vCPU is off for good; the thread waits until the vCPU is closed. */
    private void powerOff() {
        poweredOff = true;
        while (true) {
            if (closed) throw new GuestStopped();
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException ie) {
                throw new GuestStopped();
            }
        }
    }

    /** The SMCCC calls of this vCPU's guest, made on first use by the guest thread; exits go through its hand-over. */
    private SimSmccc smccc;

    private SimSmccc smcccCalls() {
        if (smccc == null) smccc = new SimSmccc(vm, new SimSmccc.Vcpu() {
            @Override public long hypercallExit(VcpuExit.Hypercall exit) {
                exit(exit);
                return hypercallRet;
            }

            @Override public void systemEvent(VcpuExit.SystemEvent event) { exit(event); }

            @Override public void powerOff() { SimVcpuImpl.this.powerOff(); }
        });
        return smccc;
    }

    /** The guest side: each method runs on the guest thread. */
    private final class Cpu implements GuestCpu {
        @Override public int vcpuId() { return id; }

        @Override public Architecture architecture() { return rules.isX86() ? Architecture.X86_64 : Architecture.ARM64; }

        @Override public long smccc(int functionId, long... args) {
            if (rules.isX86()) throw new IllegalStateException("x86 has no HVC: SMCCC function " + ArmSmccc.hex(functionId)
                    + " cannot be called (a KVM hypercall is vmcall/vmmcall)");
            return smcccCalls().call(functionId, args);
        }

        /** Port I/O and HLT are x86 instructions; arm64 code cannot execute them. */
        private void requireX86Instruction(String instruction) {
            if (!rules.isX86()) throw new IllegalStateException("arm64 has no " + instruction + " instruction: devices are reached"
                    + " through MMIO, and a vCPU that is done turns itself off with PSCI (CPU_OFF, SYSTEM_OFF)");
        }

        @Override public byte[] read(long gpa, int length) { return access(gpa, new byte[length], false, null); }

        @Override public void write(long gpa, byte[] data) { access(gpa, data.clone(), true, null); }

        @Override public byte[] readPrivate(long gpa, int length) {
            return access(gpa, new byte[length], false, explicitKind(true));
        }

        @Override public void writePrivate(long gpa, byte[] data) { access(gpa, data.clone(), true, explicitKind(true)); }

        @Override public byte[] readShared(long gpa, int length) {
            return access(gpa, new byte[length], false, explicitKind(false));
        }

        @Override public void writeShared(long gpa, byte[] data) { access(gpa, data.clone(), true, explicitKind(false)); }

        private Boolean explicitKind(boolean privateAccess) {
            if (!rules.accessKindExpressible(vm.type())) throw new IllegalStateException(
                    "a " + VmType.name(vm.type()) + " guest cannot choose private or shared per access; KVM decides");
            return privateAccess;
        }

        @Override public long hypercall(long nr, long... args) {
            if (!rules.isX86()) return SMCCC_NOT_SUPPORTED;
            // A TD reaches KVM's own hypercalls through TDG.VP.VMCALL with a non-zero leaf type (tdx_emulate_vmcall),
            // which __kvm_emulate_hypercall handles as on any VM: MAP_GPA_RANGE as given, in one exit.
            if (nr == Hypercalls.KVM_HC_MAP_GPA_RANGE)
                return kvmMapGpaRange(arg(args, 0), arg(args, 1), arg(args, 2));
            return -Hypercalls.KVM_ENOSYS;
        }

        private long arg(long[] args, int i) { return i < args.length ? args[i] : 0; }

        @Override public long mapGpaRange(long gpa, long npages, long attrs) {
            if (!rules.isX86()) return SMCCC_NOT_SUPPORTED;
            if (vm.tdx() != null) return tdxMapGpa(gpa, npages, attrs);
            return kvmMapGpaRange(gpa, npages, attrs);
        }

        /** KVM_HC_MAP_GPA_RANGE as __kvm_emulate_hypercall handles it. */
        private long kvmMapGpaRange(long gpa, long npages, long attrs) {
            // Without KVM_CAP_EXIT_HYPERCALL bit 12 KVM answers the guest itself (§1.6).
            if (!vm.hypercallExitEnabled(Hypercalls.KVM_HC_MAP_GPA_RANGE)) return -Hypercalls.KVM_ENOSYS;
            long gfn = gpa >>> 12;
            if ((gpa & 0xfff) != 0 || npages == 0 || Long.compareUnsigned(gfn + npages, gfn) <= 0) return -KVM_EINVAL;
            return mapGpaRangeExit(gpa, npages, attrs);
        }

        /**
         * A TD's conversion request, TDG.VP.VMCALL&lt;MapGPA&gt;(gpa, size) as tdx_map_gpa handles it: the GPA's shared
         * bit says which way (the guest sets it for shared, as Linux's set_memory_decrypted does; here it is set when
         * {@code attrs} asks for shared and the GPA lacks it), MapGPA has no page size, KVM checks the range and hands it
         * to userspace in chunks of at most 2 MiB with the shared bit stripped and ENCRYPTED or DECRYPTED as the only
         * attribute. The TDVMCALL status reaches the guest program as the errno the API names: SUBFUNC_UNSUPPORTED
         * (hypercall exits not enabled) as -KVM_ENOSYS, INVALID_OPERAND and ALIGN_ERROR as EINVAL, RETRY as EAGAIN.
         */
        private long tdxMapGpa(long gpa, long npages, long attrs) {
            long shared = vm.tdxSharedBit();
            long start = (attrs & Hypercalls.MAP_GPA_RANGE_ENCRYPTED) != 0 ? gpa : gpa | shared;
            if (!vm.hypercallExitEnabled(Hypercalls.KVM_HC_MAP_GPA_RANGE)) return -Hypercalls.KVM_ENOSYS;
            long size = npages << 12;
            long limit = shared == 0 ? Long.MAX_VALUE : shared << 1;
            long last = start + size - 1;
            if (npages <= 0 || (npages >>> 52) != 0 || Long.compareUnsigned(start + size, start) <= 0
                    || Long.compareUnsigned(last, limit) >= 0 || (start & shared) != (last & shared))
                return KVM_EINVAL;
            if ((start & 0xfff) != 0) return KVM_EINVAL;
            long encStat = (start & shared) == 0 ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : Hypercalls.MAP_GPA_RANGE_DECRYPTED;
            for (long done = 0; done < npages; ) {
                long n = Math.min(TDX_MAP_GPA_MAX_PAGES, npages - done);
                long ret = mapGpaRangeExit((start & ~shared) + done * 4096, n, encStat);
                // tdx_complete_vmcall_map_gpa: EAGAIN becomes TDVMCALL_STATUS_RETRY, EINVAL INVALID_OPERAND.
                if (ret != 0) return ret;
                done += n;
            }
            return 0;
        }

        private long mapGpaRangeExit(long gpa, long npages, long attrs) {
            exit(new VcpuExit.Hypercall(Hypercalls.KVM_HC_MAP_GPA_RANGE, new long[] {gpa, npages, attrs, 0, 0, 0},
                    Hypercalls.EXIT_HYPERCALL_LONG_MODE));
            return hypercallRet;
        }

        @Override public void out(int port, int size, long value) {
            requireX86Instruction("OUT");
            checkIoSize(size);
            byte[] data = new byte[size];
            for (int i = 0; i < size; i++) data[i] = (byte) (value >>> (8 * i));
            exit(new VcpuExit.Io(ExitReason.IO_OUT, size, port & 0xffff, 1, data));
        }

        @Override public long in(int port, int size) {
            requireX86Instruction("IN");
            checkIoSize(size);
            ioData = null;
            exit(new VcpuExit.Io(ExitReason.IO_IN, size, port & 0xffff, 1, new byte[size]));
            byte[] d = ioData;
            long v = 0;
            for (int i = Math.min(size, d == null ? 0 : d.length) - 1; i >= 0; i--) v = (v << 8) | (d[i] & 0xff);
            return v;
        }

        private void checkIoSize(int size) {
            if (size != 1 && size != 2 && size != 4) throw new IllegalArgumentException("I/O size must be 1, 2 or 4: " + size);
        }

        @Override public void hlt() {
            requireX86Instruction("HLT");
            exit(new VcpuExit.Hlt());
        }

        @Override public void systemEvent(int type, long... data) {
            if (data.length > 16) throw new IllegalArgumentException("a system event carries at most 16 words");
            exit(new VcpuExit.SystemEvent(type, data));
        }

        @Override public long pvalidate(long gpa, long size, boolean validate) {
            if (!(vm.encryptedMemory() instanceof EncryptedMemory.Snp)) throw new IllegalStateException(
                    "PVALIDATE is an SEV-SNP instruction; a " + VmType.name(vm.type()) + " guest cannot execute it (#UD)");
            if ((gpa & 0xfff) != 0 || (size & 0xfff) != 0 || size <= 0) return PVALIDATE_FAIL_INPUT;
            for (long at = gpa; at < gpa + size; at += 4096) {
                long at0 = at;
                long code = pageOperation(at, result -> vm.pvalidatePage(at0, validate, result));
                if (code != PVALIDATE_SUCCESS) return code;
            }
            return PVALIDATE_SUCCESS;
        }

        @Override public long acceptPage(long gpa, long size) {
            if (!(vm.encryptedMemory() instanceof EncryptedMemory.Tdx)) throw new IllegalStateException(
                    "TDG.MEM.PAGE.ACCEPT is a TDCALL; a " + VmType.name(vm.type()) + " guest is no TD (#UD)");
            long shared = vm.tdxSharedBit();
            if ((gpa & 0xfff) != 0 || (size & 0xfff) != 0 || size <= 0 || ((gpa | (gpa + size - 1)) & shared) != 0)
                return TDX_OPERAND_INVALID;
            long at = gpa;
            long[] result = new long[2];
            while (true) {
                SimVm.Stop stop = vm.acceptPages(at, gpa + size, result);
                if (stop == null) return result[1];
                at = result[0];
                if (stop instanceof SimVm.Stop.Fault f) exit(f.exit());
                else if (stop instanceof SimVm.Stop.RunFails r) await(new Event.RunFailure(r.error()));
                else throw new IllegalStateException("GPA 0x" + Long.toHexString(at) + " is not guest memory");
            }
        }

        /** One page's PVALIDATE or accept: retried after each memory fault the VMM answers, as an access is. */
        private long pageOperation(long gpa, java.util.function.Function<long[], SimVm.Stop> operation) {
            long[] result = new long[1];
            while (true) {
                SimVm.Stop stop = operation.apply(result);
                if (stop == null) return result[0];
                if (stop instanceof SimVm.Stop.Fault f) exit(f.exit());
                else if (stop instanceof SimVm.Stop.RunFails r) await(new Event.RunFailure(r.error()));
                else if (stop instanceof SimVm.Stop.Raise r) throw r.exception();
                else throw new IllegalStateException("GPA 0x" + Long.toHexString(gpa) + " is not guest memory");
            }
        }
    }

    /** A guest memory access, page by page; each page either completes or stops the vCPU and is retried. */
    private byte[] access(long gpa, byte[] buf, boolean write, Boolean kind) {
        long shared = vm.tdxSharedBit();
        if (shared != 0) {
            // A TD names the shared face with the GPA's shared bit: a plain access with it set is a shared access,
            // an explicit one sets or clears it. The memory behind both faces is the same GPA without the bit.
            if (kind == null && (gpa & shared) != 0) kind = Boolean.FALSE;
            gpa &= ~shared;
        }
        int done = 0;
        while (done < buf.length) {
            long at = gpa + done;
            int chunk = Math.min(buf.length - done, page - Math.floorMod(at, page));
            while (true) {
                SimVm.Stop stop = vm.accessPage(at, buf, done, chunk, write, kind);
                if (stop == null) break;
                if (stop instanceof SimVm.Stop.Fault f) {
                    exit(f.exit());             // userspace converts; the access is retried
                } else if (stop instanceof SimVm.Stop.RunFails r) {
                    await(new Event.RunFailure(r.error()));
                } else if (stop instanceof SimVm.Stop.Raise r) {
                    throw r.exception();    // inside the guest: the program ends unless it catches it
                } else {
                    mmio(at, buf, done, chunk, write);
                    break;
                }
            }
            done += chunk;
        }
        return buf;
    }

    /** An access without a memslot: KVM_EXIT_MMIO, at most 8 bytes per exit. */
    private void mmio(long gpa, byte[] buf, int off, int length, boolean write) {
        for (int i = 0; i < length; i += 8) {
            int n = Math.min(8, length - i);
            byte[] data = new byte[n];
            if (write) {
                System.arraycopy(buf, off + i, data, 0, n);
                exit(new VcpuExit.Mmio(gpa + i, data, n, true));
            } else {
                mmioData = null;
                exit(new VcpuExit.Mmio(gpa + i, data, n, false));
                byte[] d = mmioData;
                if (d != null) System.arraycopy(d, 0, buf, off + i, Math.min(n, d.length));
            }
        }
    }

    // ---- registers and other vCPU ioctls ----

    /** arm64 has none of the x86 register ioctls: kvm_arch_vcpu_ioctl_{get,set}_{regs,sregs} answer -EINVAL there. */
    private void requireX86(String op) {
        ensureOpen(op);
        if (!rules.isX86()) throw new KvmException(op, Errno.EINVAL, "not available on arm64");
    }

    /** A VM with protected state (SEV-ES, SNP, TDX) refuses register access once the state is encrypted. */
    private void requireUnprotected(String op) {
        requireX86(op);
        if (stateProtected) throw new KvmException(op, Errno.EINVAL, "the vCPU's state is protected (VMSA encrypted at launch)");
    }

    @Override public Regs getRegs() {
        requireUnprotected("KVM_GET_REGS");
        return regs;
    }

    @Override public void setRegs(Regs r) {
        requireUnprotected("KVM_SET_REGS");
        regs = r;
    }

    @Override public Sregs getSregs() {
        requireUnprotected("KVM_GET_SREGS");
        return sregs;
    }

    @Override public void setSregs(Sregs s) {
        requireUnprotected("KVM_SET_SREGS");
        sregs = s;
    }

    /** The registers as KVM holds them, for the VMSA the firmware measures. */
    Regs regs() { return regs; }

    Sregs sregs() { return sregs; }

    void protectState() { stateProtected = true; }

    @Override public void setCpuid2(List<CpuidEntry> entries) {
        requireX86("KVM_SET_CPUID2");
        if (entries.size() > KernelRules.MAX_CPUID_ENTRIES)
            throw new KvmException("KVM_SET_CPUID2", Errno.E2BIG, entries.size() + " entries, at most " + KernelRules.MAX_CPUID_ENTRIES);
        cpuid = List.copyOf(entries);
    }

    List<CpuidEntry> cpuid() { return cpuid; }

    @Override public void enableCap(EnableCap cap) {
        ensureOpen("KVM_ENABLE_CAP");
        throw new KvmException("KVM_ENABLE_CAP", Errno.EINVAL, "no vCPU capability " + cap.cap() + " can be enabled");
    }

    /**
     * KVM_MEMORY_ENCRYPT_OP on the vCPU fd: arm64 has no such vCPU ioctl (EINVAL), an x86 host without TDX no
     * vcpu_mem_enc_ioctl (ENOTTY), and on a TDX host the vCPU of a VM that is not a TD is refused (EINVAL).
     */
    @Override public long memoryEncryptOp(org.janus.kvm.api.TdxCommand command) {
        String op = "KVM_MEMORY_ENCRYPT_OP";
        ensureOpen(op);
        if (!rules.isX86()) throw new KvmException(op, Errno.EINVAL, "no KVM_MEMORY_ENCRYPT_OP on arm64 vCPUs");
        if (!rules.tdxAvailable()) throw new KvmException(op, Errno.ENOTTY, "no vCPU memory-encryption handler on this host");
        TdxModule td = vm.tdx();
        if (td == null) throw new KvmException(op, Errno.EINVAL, "not a vCPU of a TD");
        synchronized (vm.host().lock) {
            return td.vcpuCommand(this, command);
        }
    }

    @Override public long preFaultMemory(long gpa, long size) {
        String op = "KVM_PRE_FAULT_MEMORY";
        requireX86(op);
        if (gpa % page != 0 || size % page != 0 || Long.compareUnsigned(gpa + size, gpa) <= 0)
            throw new KvmException(op, Errno.EINVAL, "gpa or size not page aligned, size 0 or overflow");
        // pre_fault_allowed stays false for SNP until SNP_LAUNCH_FINISH, for TDX until finalisation (not modelled).
        if (!vm.preFaultAllowed())
            throw new KvmException(op, Errno.EOPNOTSUPP, "pre-faulting is not allowed before the launch is finished");
        long done = 0;
        while (done < size) {
            int err = vm.preFaultPage(gpa + done);
            if (err != 0) {
                if (done == 0) throw new KvmException(op, err, "GPA 0x" + Long.toHexString(gpa + done));
                break;
            }
            done += page;
        }
        return size - done;
    }

    @Override public void close() {
        Thread t;
        synchronized (this) {
            if (closed) return;
            closed = true;
            t = thread;
        }
        if (t != null) {
            t.interrupt();
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        vm.vcpuClosed(this);
    }

    private static Sregs resetSregs() {
        Sregs.Segment data = new Sregs.Segment(0, 0xffff, 0, 3, 1, 0, 0, 1, 0, 0, 0, 0);
        Sregs.Segment cs = new Sregs.Segment(0xffff0000L, 0xffff, 0xf000, 11, 1, 0, 0, 1, 0, 0, 0, 0);
        Sregs.Segment tr = new Sregs.Segment(0, 0xffff, 0, 11, 1, 0, 0, 0, 0, 0, 0, 0);
        Sregs.Segment ldt = new Sregs.Segment(0, 0xffff, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0);
        Sregs.DTable table = new Sregs.DTable(0, 0xffff);
        return new Sregs(cs, data, data, data, data, data, tr, ldt, table, table,
                0x60000010L, 0, 0, 0, 0, 0, 0xfee00900L, new long[4]);
    }
}
