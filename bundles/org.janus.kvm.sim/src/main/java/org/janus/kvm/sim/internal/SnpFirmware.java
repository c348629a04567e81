package org.janus.kvm.sim.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.List;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.libc.NativeMapping;

/**
 * The SEV-SNP launch of one VM: KVM's side of KVM_SEV_SNP_LAUNCH_START, _UPDATE and _FINISH (arch/x86/kvm/svm/sev.c
 * and kvm_gmem_populate, Linux 6.11 to 7.x) and the AMD secure processor's guest context behind it: the policy,
 * the pages handed to the guest, and the launch digest extended page by page as the SNP firmware ABI defines it.
 * Created by KVM_SEV_INIT2 on an SNP VM; every method runs under the model lock.
 *
 * <p>Errors as the kernel gives them. KVM's own argument checks answer EINVAL (EFAULT for a short struct) with
 * kvm_sev_cmd.error 0. A LAUNCH_UPDATE that fails on its first page answers EIO, whatever stopped it: a page that
 * is not PRIVATE, a page already launched, an unreadable source, or a firmware status, which is then in
 * kvm_sev_cmd.error (snp_launch_update turns every negative kvm_gmem_populate result into -EIO). A failure after
 * some pages is partial progress: 0, with gfn_start, uaddr and len advanced past the pages done. Once
 * LAUNCH_FINISH has succeeded, every launch command answers EINVAL (the snp_finished check of J. Beekman's "KVM:
 * SEV: Track SNP launch state and disallow invalid userspace interactions", 2026-01; without it the kernel faults).
 */
final class SnpFirmware {
    static final String OP = "KVM_MEMORY_ENCRYPT_OP";

    // Firmware status codes (SEV_RET_* in include/uapi/linux/psp-sev.h).
    static final int SEV_RET_POLICY_FAILURE = 0x07;
    static final int SEV_RET_BAD_SIGNATURE = 0x0A;
    static final int SEV_RET_BAD_MEASUREMENT = 0x0B;
    static final int SEV_RET_INVALID_PARAM = 0x16;

    // Guest policy (SNP firmware ABI "Guest Policy"); KVM accepts only these bits (SNP_POLICY_MASK_VALID).
    static final long POLICY_ABI_MINOR = 0xFFL;
    static final long POLICY_ABI_MAJOR = 0xFF00L;
    static final long POLICY_SMT = 1L << 16;
    static final long POLICY_RSVD_MBO = 1L << 17;
    static final long POLICY_DEBUG = 1L << 19;
    static final long POLICY_SINGLE_SOCKET = 1L << 20;
    static final long POLICY_VALID = POLICY_ABI_MINOR | POLICY_ABI_MAJOR | POLICY_SMT | POLICY_RSVD_MBO
            | POLICY_DEBUG | POLICY_SINGLE_SOCKET;
    /** The firmware's ABI version; a policy asking for a newer one fails with POLICY_FAILURE. */
    static final int FIRMWARE_ABI_MAJOR = 1;
    static final int FIRMWARE_ABI_MINOR = 55;

    // KVM_SEV_SNP_PAGE_TYPE_* and the firmware's VMSA page type.
    static final int PAGE_NORMAL = 1;
    static final int PAGE_VMSA = 2;
    static final int PAGE_ZERO = 3;
    static final int PAGE_UNMEASURED = 4;
    static final int PAGE_SECRETS = 5;
    static final int PAGE_CPUID = 6;

    /** INITIAL_VMSA_GPA: the RMP gives every VMSA this address when KVM hands it to the firmware. */
    static final long VMSA_GPA = 0xFFFFFFFFF000L;
    /**
     * At most this many pages per LAUNCH_UPDATE, so that callers meet the documented partial progress ("not
     * guaranteed to have processed the entire range") and loop as they must on any kernel.
     */
    static final int PAGES_PER_CALL = 16;
    /** Every this-many LAUNCH_UPDATE calls, one answers the documented "-EAGAIN if caller should retry". */
    static final int EAGAIN_EVERY = 5;

    static final int START_SIZE = 64;
    static final int UPDATE_SIZE = 64;
    static final int FINISH_SIZE = 88;

    private static final int PAGE = 4096;
    private static final int DIGEST_SIZE = 48;
    private static final int PAGE_INFO_SIZE = 0x70;
    /** SNP_CPUID_COUNT_MAX and the layout of struct snp_cpuid_table: 16-byte header, 48-byte entries. */
    private static final int CPUID_MAX_ENTRIES = 64;
    private static final int CPUID_HEADER = 16;
    private static final int CPUID_ENTRY = 48;

    private final SimVm vm;
    private final long sevFeatures;
    private final SecureRandom random = new SecureRandom();
    private byte[] digest = new byte[DIGEST_SIZE];
    private boolean context;
    private boolean vmsasMeasured;
    private boolean finished;
    private long policy;
    private byte[] gosvw = new byte[16];
    private byte[] hostData = new byte[32];
    private SimHost.SimSevDevice contextDevice;
    /** GFNs the firmware has made guest pages (RMP assigned) during this launch. */
    private final PageRanges launched = new PageRanges();
    private long updateCalls;

    /** @param sevFeatures the VMSA features of KVM_SEV_INIT2 with SNPActive added, as KVM keeps them */
    SnpFirmware(SimVm vm, long sevFeatures) {
        this.vm = vm;
        this.sevFeatures = sevFeatures;
    }

    boolean finished() { return finished; }

    /** The launch digest, once LAUNCH_FINISH has succeeded. */
    byte[] launchDigest() {
        if (!finished) throw new IllegalStateException("the SNP launch of " + vm + " has not finished");
        return digest.clone();
    }

    long command(SevCommand cmd) {
        return switch (cmd.id()) {
            case SevCommand.SNP_LAUNCH_START -> launchStart(cmd.data(), cmd.sevDevice());
            case SevCommand.SNP_LAUNCH_UPDATE -> launchUpdate(cmd.data(), cmd.sevDevice());
            case SevCommand.SNP_LAUNCH_FINISH -> launchFinish(cmd.data(), cmd.sevDevice());
            default -> throw kernel(Errno.EINVAL, "SEV command " + cmd.id() + " is not an SNP launch command");
        };
    }

    // ---- KVM_SEV_SNP_LAUNCH_START ----

    private long launchStart(byte[] data, SevDevice device) {
        if (finished) throw kernel(Errno.EINVAL, "the launch has finished");
        if (data == null || data.length < START_SIZE) throw kernel(Errno.EFAULT, "kvm_sev_snp_launch_start needs 64 bytes");
        if (context) throw kernel(Errno.EINVAL, "SNP_LAUNCH_START was already issued; a VM has one SNP context");
        long requested = le(data, 0, 8);
        int flags = (int) le(data, 24, 2);
        if (flags != 0) throw kernel(Errno.EINVAL, "flags must be 0");
        if ((requested & ~POLICY_VALID) != 0) throw kernel(Errno.EINVAL, String.format(
                "policy 0x%x sets bits KVM does not accept (valid: 0x%x)", requested, POLICY_VALID));
        if ((requested & POLICY_RSVD_MBO) == 0) throw kernel(Errno.EINVAL, "policy bit 17 (reserved, must be one) is 0");
        if ((requested & POLICY_SMT) == 0) throw kernel(Errno.EINVAL, "policy bit 16 (SMT allowed) is 0; KVM requires it");
        if ((requested & POLICY_SINGLE_SOCKET) != 0) throw kernel(Errno.EINVAL, "policy bit 20 (single socket) is not supported by KVM");
        // snp_context_create issues SNP_GCTX_CREATE on argp->sev_fd; when that fails KVM answers ENOTTY.
        SimHost.SimSevDevice dev = openDevice(device);
        if (dev == null) throw kernel(Errno.ENOTTY, "SNP_GCTX_CREATE failed: sev_fd is not an open /dev/sev");
        checkInjected("KVM_SEV_SNP_LAUNCH_START");
        long major = (requested & POLICY_ABI_MAJOR) >>> 8;
        long minor = requested & POLICY_ABI_MINOR;
        if (major > FIRMWARE_ABI_MAJOR || (major == FIRMWARE_ABI_MAJOR && minor > FIRMWARE_ABI_MINOR))
            throw firmware(SEV_RET_POLICY_FAILURE, String.format("policy asks for ABI %d.%d, the firmware has %d.%d",
                    major, minor, FIRMWARE_ABI_MAJOR, FIRMWARE_ABI_MINOR));
        policy = requested;
        System.arraycopy(data, 8, gosvw, 0, 16);
        contextDevice = dev;
        context = true;
        return 0;
    }

    // ---- KVM_SEV_SNP_LAUNCH_UPDATE ----

    private long launchUpdate(byte[] data, SevDevice device) {
        if (!context || finished) throw kernel(Errno.EINVAL, finished ? "the launch has finished" : "no SNP context (SNP_LAUNCH_START first)");
        if (data == null || data.length < UPDATE_SIZE) throw kernel(Errno.EFAULT, "kvm_sev_snp_launch_update needs 64 bytes");
        long gfn = le(data, 0, 8);
        long uaddr = le(data, 8, 8);
        long len = le(data, 16, 8);
        int type = data[24] & 0xFF;
        int flags = (int) le(data, 26, 2);
        if (len <= 0 || len % PAGE != 0) throw kernel(Errno.EINVAL, "len 0x" + Long.toHexString(len) + " is not a positive multiple of 4 KiB");
        if (flags != 0) throw kernel(Errno.EINVAL, "flags must be 0");
        if (type != PAGE_NORMAL && type != PAGE_ZERO && type != PAGE_UNMEASURED && type != PAGE_SECRETS && type != PAGE_CPUID)
            throw kernel(Errno.EINVAL, "page type " + type + " is not NORMAL, ZERO, UNMEASURED, SECRETS or CPUID");
        if (type != PAGE_ZERO && uaddr % PAGE != 0) throw kernel(Errno.EINVAL, "uaddr 0x" + Long.toHexString(uaddr) + " is not 4 KiB aligned");
        Memslot slot = gfn < (Long.MAX_VALUE >>> 12) ? vm.slotAt(gfn * PAGE) : null;
        if (slot == null || slot.gmem() == null) throw kernel(Errno.EINVAL, String.format(
                "GFN 0x%x is not in a guest_memfd memslot", gfn));
        checkInjected("KVM_SEV_SNP_LAUNCH_UPDATE");
        if (++updateCalls % EAGAIN_EVERY == 0) throw kernel(Errno.EAGAIN, "try again");
        if (slot.gmem().isReleased()) throw populateFailed(Errno.EFAULT, "the memslot's guest_memfd is gone");
        // kvm_gmem_populate stops at the end of the memslot; the caller's next call starts in the next one.
        long slotPagesLeft = (slot.end() - gfn * PAGE) / PAGE;
        long pages = Math.min(Math.min(len / PAGE, slotPagesLeft), PAGES_PER_CALL);
        boolean sourceGiven = type != PAGE_ZERO && uaddr != 0;
        long done = 0;
        for (; done < pages; done++) {
            long pageGfn = gfn + done;
            long gpa = pageGfn * PAGE;
            int failure = 0;
            String why = null;
            if (!vm.attributePrivate(gpa, slot)) {
                failure = Errno.EINVAL;
                why = String.format("GPA 0x%x is not PRIVATE", gpa);
            } else if (launched.contains(pageGfn)) {
                failure = Errno.EEXIST;
                why = String.format("GPA 0x%x is already a guest page of this launch", gpa);
            } else if (type != PAGE_ZERO && uaddr == 0 && !vm.rules().inPlace()) {
                // Only guest_memfd with in-place attributes holds the payload itself; elsewhere the source is required.
                failure = Errno.EINVAL;
                why = "uaddr is 0 but the payload must come from a source buffer (attributes are VM-wide)";
            } else if (device == null || openDevice(device) == null) {
                failure = Errno.EBADF;
                why = "sev_fd is not an open /dev/sev";
            }
            byte[] source = null;
            if (failure == 0 && sourceGiven) {
                source = readUser(uaddr + done * PAGE);
                if (source == null) {
                    failure = Errno.EFAULT;
                    why = String.format("cannot read the source page at 0x%x", uaddr + done * PAGE);
                }
            }
            if (failure == 0) {
                long off = slot.gmemOffsetOf(gpa);
                if (source != null) slot.gmem().guestWrite(off, source, 0, PAGE);
                int status = firmwareUpdate(type, gpa, slot, off);
                if (status != 0) {
                    // The firmware leaves a refused CPUID page corrected and unencrypted; KVM copies it back.
                    if (type == PAGE_CPUID && sourceGiven) writeUser(uaddr + done * PAGE, pageAt(slot, off));
                    if (done == 0) throw firmware(status, String.format("firmware refused the %s page at GPA 0x%x",
                            typeName(type), gpa));
                    break;
                }
                launched.add(pageGfn, pageGfn + 1);
                // The firmware encrypts the page where it is and validates it: the guest finds the plaintext, ready.
                vm.encryptedMemory().placedByFirmware(slot.gmem(), off);
                continue;
            }
            if (done == 0) throw populateFailed(failure, why);
            break;
        }
        put(data, 0, gfn + done);
        // With the in-place series uaddr 0 means "no source" and stays 0.
        if (sourceGiven) put(data, 8, uaddr + done * PAGE);
        put(data, 16, len - done * PAGE);
        return 0;
    }

    /** SNP_LAUNCH_UPDATE of one page by the firmware: its effect on the page and on the digest, or a status. */
    private int firmwareUpdate(int type, long gpa, Memslot slot, long off) {
        switch (type) {
            case PAGE_NORMAL -> extend(PAGE_NORMAL, gpa, sha384(pageAt(slot, off)));
            case PAGE_ZERO -> {
                slot.gmem().guestWrite(off, new byte[PAGE], 0, PAGE);
                extend(PAGE_ZERO, gpa, null);
            }
            case PAGE_UNMEASURED -> extend(PAGE_UNMEASURED, gpa, null);
            case PAGE_SECRETS -> {
                slot.gmem().guestWrite(off, secretsPage(), 0, PAGE);
                extend(PAGE_SECRETS, gpa, null);
            }
            case PAGE_CPUID -> {
                byte[] page = pageAt(slot, off);
                byte[] corrected = checkCpuidPage(page);
                if (corrected != null) {
                    slot.gmem().guestWrite(off, corrected, 0, PAGE);
                    return SEV_RET_INVALID_PARAM;
                }
                extend(PAGE_CPUID, gpa, null);
            }
            default -> throw new IllegalArgumentException("page type " + type);
        }
        return 0;
    }

    /**
     * The firmware's CPUID check: the table's header and reserved fields are zero, it has at most 64 entries, each
     * function is one the processor has, and the feature words of leaves 1, 7.0 and 0x80000001 claim nothing the
     * processor lacks (the host's KVM_GET_SUPPORTED_CPUID stands for the processor here).
     *
     * @return null if the page passes, else the page as the firmware corrects it
     */
    private byte[] checkCpuidPage(byte[] page) {
        byte[] fixed = page.clone();
        boolean bad = false;
        long count = le(page, 0, 4);
        if (le(page, 4, 4) != 0 || le(page, 8, 8) != 0) {
            bad = true;
            for (int i = 4; i < CPUID_HEADER; i++) fixed[i] = 0;
        }
        if (count > CPUID_MAX_ENTRIES) {
            put32(fixed, 0, CPUID_MAX_ENTRIES);
            return fixed;
        }
        List<CpuidEntry> host = vm.host().getSupportedCpuid(KernelRules.MAX_CPUID_ENTRIES);
        for (int i = 0; i < count; i++) {
            int at = CPUID_HEADER + i * CPUID_ENTRY;
            int function = (int) le(page, at, 4);
            int index = (int) le(page, at + 4, 4);
            CpuidEntry known = host.stream().filter(e -> e.function() == function
                    && ((e.flags() & CpuidEntry.FLAG_SIGNIFCANT_INDEX) == 0 || e.index() == index)).findFirst().orElse(null);
            if (le(page, at + 40, 8) != 0) {
                bad = true;
                put(fixed, at + 40, 0);
            }
            if (known == null) {
                bad = true;
                for (int r = 24; r < 40; r++) fixed[at + r] = 0;
                continue;
            }
            boolean featureLeaf = function == 1 || (function == 7 && index == 0) || function == 0x80000001;
            if (!featureLeaf) continue;
            int[] hostWords = {known.ecx(), known.edx()};
            int[] offsets = {at + 32, at + 36};
            if (function == 7) {
                hostWords = new int[] {known.ebx(), known.ecx(), known.edx()};
                offsets = new int[] {at + 28, at + 32, at + 36};
            }
            for (int w = 0; w < offsets.length; w++) {
                int claimed = (int) le(page, offsets[w], 4);
                if ((claimed & ~hostWords[w]) != 0) {
                    bad = true;
                    put32(fixed, offsets[w], claimed & hostWords[w]);
                }
            }
        }
        return bad ? fixed : null;
    }

    /** The secrets page the firmware writes (ABI "Secrets Page Format", version 2): FMS, GOSVW, four VMPCKs. */
    private byte[] secretsPage() {
        byte[] p = new byte[PAGE];
        put32(p, 0x00, 2);
        CpuidEntry leaf1 = vm.host().getSupportedCpuid(KernelRules.MAX_CPUID_ENTRIES).stream()
                .filter(e -> e.function() == 1).findFirst().orElseThrow();
        put32(p, 0x08, leaf1.eax());
        System.arraycopy(gosvw, 0, p, 0x10, 16);
        byte[] keys = new byte[4 * 32];
        random.nextBytes(keys);
        System.arraycopy(keys, 0, p, 0x20, keys.length);
        return p;
    }

    // ---- KVM_SEV_SNP_LAUNCH_FINISH ----

    private long launchFinish(byte[] data, SevDevice device) {
        if (!context || finished) throw kernel(Errno.EINVAL, finished ? "the launch has finished" : "no SNP context (SNP_LAUNCH_START first)");
        if (data == null || data.length < FINISH_SIZE) throw kernel(Errno.EFAULT, "kvm_sev_snp_launch_finish needs 88 bytes");
        if (le(data, 54, 2) != 0) throw kernel(Errno.EINVAL, "flags must be 0");
        if (vmsasMeasured) throw kernel(Errno.EINVAL,
                "an earlier LAUNCH_FINISH already measured and protected the vCPUs' VMSAs");
        checkInjected("KVM_SEV_SNP_LAUNCH_FINISH");
        // snp_launch_update_vmsa: each vCPU's VMSA, in creation order, through argp->sev_fd.
        if (!vm.vcpusInCreationOrder().isEmpty() && openDevice(device) == null)
            throw kernel(Errno.EBADF, "sev_fd is not an open /dev/sev");
        for (SimVcpuImpl vcpu : vm.vcpusInCreationOrder()) {
            extend(PAGE_VMSA, VMSA_GPA, sha384(InitialVmsa.page(vcpu.regs(), vcpu.sregs(), sevFeatures)));
            vcpu.protectState();
        }
        vmsasMeasured = true;
        boolean idBlockEnabled = data[16] != 0;
        boolean authorKeyEnabled = data[17] != 0;
        byte[] idBlock = null;
        byte[] idAuth = null;
        if (idBlockEnabled) {
            idBlock = readUser(le(data, 0, 8), SnpIdBlock.BLOCK_SIZE);
            if (idBlock == null) throw kernel(Errno.EFAULT, "cannot read the ID block at id_block_uaddr");
            idAuth = readUser(le(data, 8, 8), SnpIdBlock.AUTH_SIZE);
            if (idAuth == null) throw kernel(Errno.EFAULT, "cannot read the ID auth structure at id_auth_uaddr");
        }
        // The firmware command goes to the sev_fd saved at LAUNCH_START.
        if (!contextDevice.open) throw kernel(Errno.EBADF, "the /dev/sev of SNP_LAUNCH_START has been closed");
        if (idBlockEnabled) {
            int status = SnpIdBlock.check(idBlock, idAuth, authorKeyEnabled, digest, policy);
            if (status != 0) throw firmware(status, "the firmware refused the ID block");
        }
        System.arraycopy(data, 19, hostData, 0, 32);
        finished = true;
        return 0;
    }

    // ---- the launch digest ----

    /**
     * One step of the digest (SNP firmware ABI, SNP_LAUNCH_UPDATE, "PAGE_INFO"): SHA-384 over DIGEST_CUR[48],
     * CONTENTS[48] (the page's SHA-384 for NORMAL and VMSA pages, else zero), LENGTH u16 = 0x70, PAGE_TYPE u8,
     * IMI_PAGE u8, VMPL3/2/1_PERMS u8 each (zero without an SVSM), a reserved byte, GPA u64.
     */
    private void extend(int pageType, long gpa, byte[] contents) {
        byte[] info = new byte[PAGE_INFO_SIZE];
        System.arraycopy(digest, 0, info, 0x00, DIGEST_SIZE);
        if (contents != null) System.arraycopy(contents, 0, info, 0x30, DIGEST_SIZE);
        info[0x60] = (byte) PAGE_INFO_SIZE;
        info[0x62] = (byte) pageType;
        put(info, 0x68, gpa);
        digest = sha384(info);
    }

    private static byte[] sha384(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-384").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-384 is part of every Java platform", e);
        }
    }

    // ---- helpers ----

    private static byte[] pageAt(Memslot slot, long off) {
        byte[] page = new byte[PAGE];
        slot.gmem().guestRead(off, page, 0, PAGE);
        return page;
    }

    /** copy_from_user of a page from the VMM's address space: only mappings the sim handed out resolve. */
    private byte[] readUser(long address) { return readUser(address, PAGE); }

    private byte[] readUser(long address, int length) {
        NativeMapping m = vm.host().addresses().find(address, length);
        if (m == null) return null;
        try {
            return m.read(address - m.address(), length);
        } catch (KvmException e) {
            return null;
        }
    }

    private void writeUser(long address, byte[] bytes) {
        NativeMapping m = vm.host().addresses().find(address, bytes.length);
        if (m == null) return;
        try {
            m.write(address - m.address(), bytes);
        } catch (KvmException e) {
            // KVM only logs a failed copy-back of the corrected CPUID page.
        }
    }

    private static SimHost.SimSevDevice openDevice(SevDevice device) {
        return device instanceof SimHost.SimSevDevice d && d.open ? d : null;
    }

    private void checkInjected(String operation) {
        int errno = vm.host().faults().next(operation);
        if (errno != 0) throw new KvmException(OP, errno, KvmException.NONE, 0, "injected fault in " + operation);
    }

    private static KvmException kernel(int errno, String detail) {
        return new KvmException(OP, errno, KvmException.NONE, 0, detail);
    }

    /** kvm_gmem_populate failed before any page: snp_launch_update answers EIO, with the firmware status. */
    private static KvmException populateFailed(int cause, String detail) {
        return new KvmException(OP, Errno.EIO, KvmException.NONE, 0,
                detail + " (kvm_gmem_populate: " + Errno.name(cause) + ")");
    }

    private static KvmException firmware(int status, String detail) {
        return new KvmException(OP, Errno.EIO, KvmException.NONE, status, detail);
    }

    private static String typeName(int type) {
        return switch (type) {
            case PAGE_NORMAL -> "NORMAL";
            case PAGE_ZERO -> "ZERO";
            case PAGE_UNMEASURED -> "UNMEASURED";
            case PAGE_SECRETS -> "SECRETS";
            case PAGE_CPUID -> "CPUID";
            default -> "type " + type;
        };
    }

    private static long le(byte[] b, int off, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | (b[off + i] & 0xFF);
        return v;
    }

    private static void put(byte[] b, int off, long v) {
        for (int i = 0; i < 8; i++) b[off + i] = (byte) (v >>> (8 * i));
    }

    private static void put32(byte[] b, int off, int v) {
        for (int i = 0; i < 4; i++) b[off + i] = (byte) (v >>> (8 * i));
    }
}
