package org.janus.guests.internal;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramContext.AccessModel;
import org.janus.memory.api.RamRegion;
import org.janus.platform.api.ConfidentialPlatform;

/**
 * What the guest programs do alike: console lines, page-state changes (MAP_GPA_RANGE on x86, pKVM's MEM_SHARE and
 * MEM_UNSHARE on arm64), ending a vCPU's work, memory accesses of a chosen face, patterns, and where in RAM a program
 * puts its data. Guest code that finds something wrong throws {@link IllegalStateException}; the VM then fails with
 * that message.
 */
final class GuestOps {
    static final long PAGE = 4096;
    static final long M2 = 2L << 20;
    static final long G1 = 1L << 30;
    /**
     * Where the programs that lay out their own data start looking for RAM: 16 MiB, where Linux loads its kernel by
     * default (CONFIG_PHYSICAL_START), above what firmware uses at boot (e.g. OVMF's SEV metadata at 8 MiB).
     */
    static final long DATA_FLOOR = 16L << 20;
    /** How often an EAGAIN (a page still pinned on the host) is retried before the guest gives up. */
    static final int EAGAIN_RETRIES = 10;

    /** Which face of a page an access means. */
    enum Face {
        PRIVATE, SHARED,
        /** A plain access: on SEV-SNP and TDX private; on a software-protected VM whatever the page is now. */
        AUTO;

        /** The face to ask for on a VM of this access model: explicit faces exist only where the guest chooses. */
        static Face of(AccessModel access, boolean privateSide) {
            if (access != AccessModel.GUEST_CHOSEN) return AUTO;
            return privateSide ? PRIVATE : SHARED;
        }
    }

    private GuestOps() {}

    static void print(GuestCpu cpu, GuestProgramContext context, String line) {
        console(cpu, context, (line + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    /** Console bytes: OUTs to the console port on x86, byte writes to the console's MMIO register on arm64. */
    static void console(GuestCpu cpu, GuestProgramContext context, byte[] bytes) {
        boolean arm64 = cpu.architecture() == GuestCpu.Architecture.ARM64;
        for (byte b : bytes) {
            if (arm64) cpu.write(context.consoleMmio(), new byte[] {b});
            else cpu.out(context.consolePort(), 1, b & 0xff);
        }
    }

    /**
     * Ends the VM with {@code code} as the guest's exit code (port {@link GuestProgramContext#exitPort()}). arm64 has
     * no exit port and PSCI SYSTEM_OFF carries no code: code 0 turns the system off, any other fails the guest.
     */
    static void exit(GuestCpu cpu, GuestProgramContext context, int code) {
        if (cpu.architecture() != GuestCpu.Architecture.ARM64) {
            cpu.out(context.exitPort(), 1, code);
            return;
        }
        if (code != 0) throw new IllegalStateException("the guest ends with exit code " + code + ", which arm64 cannot report");
        cpu.smccc(ArmSmccc.PSCI_SYSTEM_OFF);
    }

    /**
     * This vCPU's work is done. x86: HLT (the VM ends when every vCPU has halted). arm64, whose WFI never reaches the
     * VMM: every vCPU but 0 turns itself off (PSCI CPU_OFF), and vCPU 0 waits until PSCI AFFINITY_INFO reports each
     * of them off, then turns the system off (PSCI SYSTEM_OFF), as Linux powers off.
     */
    static void finish(GuestCpu cpu, GuestProgramContext context) {
        if (cpu.architecture() != GuestCpu.Architecture.ARM64) {
            cpu.hlt();
            return;
        }
        if (cpu.vcpuId() != 0) {
            cpu.smccc(ArmSmccc.PSCI_CPU_OFF);
            return;
        }
        for (int v = 1; v < context.vcpuCount(); v++) {
            while (cpu.smccc(ArmSmccc.PSCI_AFFINITY_INFO_64, mpidr(v), 0) != ArmSmccc.PSCI_AFFINITY_OFF) Thread.yield();
        }
        cpu.smccc(ArmSmccc.PSCI_SYSTEM_OFF);
    }

    /**
     * The affinity fields of vCPU {@code id}'s MPIDR as KVM sets them at reset (Aff0 = id[3:0], Aff1 = id[11:4],
     * Aff2 = id[19:12]); firmware would tell a real guest through its device tree.
     */
    static long mpidr(int id) {
        return (id & 0xfL) | ((long) ((id >> 4) & 0xff) << 8) | ((long) ((id >> 12) & 0xff) << 16);
    }

    /** The MAP_GPA_RANGE page-size code of the largest page size both the start and the size are aligned to. */
    static long pageSizeCode(long gpa, long size) {
        if (((gpa | size) & (G1 - 1)) == 0) return Hypercalls.MAP_GPA_RANGE_PAGE_SZ_1G;
        if (((gpa | size) & (M2 - 1)) == 0) return Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M;
        return Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K;
    }

    /** MAP_GPA_RANGE of [gpa, gpa + size), retried on EAGAIN; the guest's answer (0, EINVAL, EAGAIN, -KVM_ENOSYS). */
    static long mapGpaRange(GuestCpu cpu, long gpa, long size, long sizeCode, boolean toPrivate) {
        long attrs = sizeCode | (toPrivate ? Hypercalls.MAP_GPA_RANGE_ENCRYPTED : Hypercalls.MAP_GPA_RANGE_DECRYPTED);
        long ret = 0;
        for (int attempt = 0; attempt <= EAGAIN_RETRIES; attempt++) {
            ret = cpu.mapGpaRange(gpa, size / PAGE, attrs);
            if (ret != Errno.EAGAIN) return ret;
        }
        return ret;
    }

    /**
     * Makes [gpa, gpa + size) private or shared, which must succeed: {@link #mapGpaRange} with the largest fitting page
     * size on x86, {@link #pkvmShare} on arm64.
     */
    static void convert(GuestCpu cpu, long gpa, long size, boolean toPrivate, String where) {
        if (cpu.architecture() == GuestCpu.Architecture.ARM64) {
            pkvmShare(cpu, gpa, size, !toPrivate, where);
            return;
        }
        long ret = mapGpaRange(cpu, gpa, size, pageSizeCode(gpa, size), toPrivate);
        if (ret != 0) throw new IllegalStateException(where + ": MAP_GPA_RANGE of " + range(gpa, size) + " to "
                + (toPrivate ? "private" : "shared") + " answered " + answerName(ret));
    }

    /**
     * Takes [gpa, gpa + size), which has just turned private, into use, as a guest kernel must before it touches it:
     * PVALIDATE on SEV-SNP, TDG.MEM.PAGE.ACCEPT on TDX (which fills the pages with zeros); nothing on platforms whose
     * private pages are usable as they are. It must succeed.
     */
    static void takePrivate(GuestCpu cpu, GuestProgramContext context, long gpa, long size, String where) {
        if (ConfidentialPlatform.SEV_SNP.equals(context.platform())) {
            long rc = cpu.pvalidate(gpa, size, true);
            if (rc != GuestCpu.PVALIDATE_SUCCESS) throw new IllegalStateException(where + ": PVALIDATE of " + range(gpa, size)
                    + " answered " + pvalidateName(rc));
        } else if (ConfidentialPlatform.TDX.equals(context.platform())) {
            long status = cpu.acceptPage(gpa, size);
            if (status != GuestCpu.TDX_SUCCESS) throw new IllegalStateException(where + ": TDG.MEM.PAGE.ACCEPT of "
                    + range(gpa, size) + " answered 0x" + Long.toHexString(status)
                    + (status == GuestCpu.TDX_PAGE_ALREADY_ACCEPTED ? " (TDX_PAGE_ALREADY_ACCEPTED)" : ""));
        }
    }

    /**
     * As {@link #takePrivate}, for memory whose history the program does not know (RAM it finds at boot): a page the
     * firmware or an earlier take already made usable is fine as it is.
     */
    static void ensureUsable(GuestCpu cpu, GuestProgramContext context, long gpa, long size, String where) {
        for (long at = gpa; at < gpa + size; at += PAGE) {
            if (ConfidentialPlatform.SEV_SNP.equals(context.platform())) {
                long rc = cpu.pvalidate(at, PAGE, true);
                if (rc != GuestCpu.PVALIDATE_SUCCESS && rc != GuestCpu.PVALIDATE_FAIL_NOUPDATE) throw new IllegalStateException(
                        where + ": PVALIDATE of " + range(at, PAGE) + " answered " + pvalidateName(rc));
            } else if (ConfidentialPlatform.TDX.equals(context.platform())) {
                long status = cpu.acceptPage(at, PAGE);
                if (status != GuestCpu.TDX_SUCCESS && status != GuestCpu.TDX_PAGE_ALREADY_ACCEPTED) throw new IllegalStateException(
                        where + ": TDG.MEM.PAGE.ACCEPT of " + range(at, PAGE) + " answered 0x" + Long.toHexString(status));
            }
        }
    }

    /**
     * Gives up [gpa, gpa + size) before it turns shared, as Linux's set_memory_decrypted does on SEV-SNP: PVALIDATE
     * with validate 0 (rescind), so that the guest never holds a validated page the host owns. Nothing elsewhere. The
     * range must have been taken with {@link #takePrivate}.
     */
    static void releasePrivate(GuestCpu cpu, GuestProgramContext context, long gpa, long size, String where) {
        if (!ConfidentialPlatform.SEV_SNP.equals(context.platform())) return;
        long rc = cpu.pvalidate(gpa, size, false);
        if (rc != GuestCpu.PVALIDATE_SUCCESS) throw new IllegalStateException(where + ": PVALIDATE (rescind) of " + range(gpa, size)
                + " answered " + pvalidateName(rc));
    }

    /** set_memory_encrypted: {@link #convert} to private, then {@link #takePrivate}. */
    static void makePrivate(GuestCpu cpu, GuestProgramContext context, long gpa, long size, String where) {
        convert(cpu, gpa, size, true, where);
        takePrivate(cpu, context, gpa, size, where);
    }

    /** set_memory_decrypted: {@link #releasePrivate}, then {@link #convert} to shared. */
    static void makeShared(GuestCpu cpu, GuestProgramContext context, long gpa, long size, String where) {
        releasePrivate(cpu, context, gpa, size, where);
        convert(cpu, gpa, size, false, where);
    }

    static String pvalidateName(long rc) {
        if (rc == GuestCpu.PVALIDATE_FAIL_NOUPDATE) return rc + " (FAIL_NOUPDATE: already in that state)";
        if (rc == GuestCpu.PVALIDATE_FAIL_INPUT) return rc + " (FAIL_INPUT)";
        return String.valueOf(rc);
    }

    /**
     * pKVM: MEM_SHARE or MEM_UNSHARE of every granule of [gpa, gpa + size), the granule being what HYP_MEMINFO answers.
     * Each must answer SUCCESS. pKVM shares only pages the guest owns and takes back only pages it shared, so the
     * range must be wholly private before a share and wholly shared before an unshare.
     */
    static void pkvmShare(GuestCpu cpu, long gpa, long size, boolean share, String where) {
        long granule = cpu.smccc(ArmSmccc.KVM_HYP_MEMINFO);
        if (granule <= 0) throw new IllegalStateException(where + ": HYP_MEMINFO answered " + smcccName(granule)
                + ": this is not a pKVM protected VM");
        if (((gpa | size) & (granule - 1)) != 0) throw new IllegalStateException(where + ": " + range(gpa, size)
                + " is not aligned to pKVM's granule 0x" + Long.toHexString(granule));
        int function = share ? ArmSmccc.KVM_MEM_SHARE : ArmSmccc.KVM_MEM_UNSHARE;
        for (long at = gpa; at < gpa + size; at += granule) {
            long ret = cpu.smccc(function, at, 0, 0);
            if (ret != ArmSmccc.RET_SUCCESS) throw new IllegalStateException(where + ": " + (share ? "MEM_SHARE" : "MEM_UNSHARE")
                    + "(0x" + Long.toHexString(at) + ") of " + range(gpa, size) + " answered " + smcccName(ret));
        }
    }

    static String smcccName(long ret) {
        if (ret == ArmSmccc.RET_NOT_SUPPORTED) return ret + " (NOT_SUPPORTED)";
        if (ret == ArmSmccc.RET_INVALID_PARAMETER) return ret + " (INVALID_PARAMETER)";
        return String.valueOf(ret);
    }

    static String answerName(long ret) {
        if (ret == 0) return "0 (done)";
        if (ret == -Hypercalls.KVM_ENOSYS) return ret + " (-KVM_ENOSYS: this VM does not let MAP_GPA_RANGE reach the host)";
        if (ret == Errno.EINVAL) return ret + " (EINVAL: refused)";
        if (ret == Errno.EAGAIN) return ret + " (EAGAIN, " + EAGAIN_RETRIES + " retries)";
        return String.valueOf(ret);
    }

    static byte[] read(GuestCpu cpu, Face face, long gpa, int length) {
        return switch (face) {
            case PRIVATE -> cpu.readPrivate(gpa, length);
            case SHARED -> cpu.readShared(gpa, length);
            case AUTO -> cpu.read(gpa, length);
        };
    }

    static void write(GuestCpu cpu, Face face, long gpa, byte[] data) {
        switch (face) {
            case PRIVATE -> cpu.writePrivate(gpa, data);
            case SHARED -> cpu.writeShared(gpa, data);
            case AUTO -> cpu.write(gpa, data);
        }
    }

    static long readLong(GuestCpu cpu, Face face, long gpa) { return le(read(cpu, face, gpa, 8), 0); }

    static void writeLong(GuestCpu cpu, Face face, long gpa, long value) { write(cpu, face, gpa, le(value)); }

    static long le(byte[] b, int off) {
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[off + i] & 0xff);
        return v;
    }

    static byte[] le(long value) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (value >>> (8 * i));
        return b;
    }

    /** splitmix64's finaliser: neighbouring inputs give unrelated outputs. */
    static long mix(long x) {
        x = (x ^ (x >>> 30)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        return x ^ (x >>> 31);
    }

    /** {@code length} bytes determined by (seed, tag), none of them all-zero words: zero is what a discarded page reads. */
    static byte[] pattern(long seed, long tag, int length) {
        byte[] out = new byte[length];
        long state = mix(seed * 0x9E3779B97F4A7C15L ^ tag);
        for (int i = 0; i < length; i += 8) {
            state = mix(state + 0x9E3779B97F4A7C15L) | 1;
            for (int j = 0; j < 8 && i + j < length; j++) out[i + j] = (byte) (state >>> (8 * j));
        }
        return out;
    }

    /** The offset of the first byte where {@code got} differs from {@code want}, or -1. */
    static int firstDifference(byte[] got, byte[] want) {
        int n = Math.min(got.length, want.length);
        for (int i = 0; i < n; i++) if (got[i] != want[i]) return i;
        return got.length == want.length ? -1 : n;
    }

    static boolean allZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    /** Up to 16 bytes in hex, for messages. */
    static String hexBytes(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(16, b.length); i++) s.append(String.format("%02x", b[i] & 0xff));
        return b.length > 16 ? s + "..." : s.toString();
    }

    static String range(long gpa, long size) { return "[0x" + Long.toHexString(gpa) + ", 0x" + Long.toHexString(gpa + size) + ")"; }

    static String mib(long bytes) {
        return bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB" : bytes % 1024 == 0 ? (bytes >> 10) + " KiB" : bytes + " bytes";
    }

    /**
     * Where {@code size} bytes aligned to {@code alignment} fit in one RAM region at or above {@code floor}: the lowest
     * such address, or empty.
     */
    static Optional<Long> place(List<RamRegion> ram, long size, long alignment, long floor) {
        return ram.stream().sorted((a, b) -> Long.compare(a.gpa(), b.gpa())).map(r -> {
            long start = Math.max(floor, r.gpa());
            start = (start + alignment - 1) / alignment * alignment;
            return start + size <= r.end() && start + size > start ? start : -1L;
        }).filter(a -> a >= 0).findFirst();
    }

    /** Whether [gpa, gpa + size) lies in one RAM region. */
    static boolean inRam(List<RamRegion> ram, long gpa, long size) {
        return ram.stream().anyMatch(r -> r.contains(gpa, size));
    }
}
