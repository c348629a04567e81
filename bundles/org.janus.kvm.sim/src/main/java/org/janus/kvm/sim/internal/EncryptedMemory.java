package org.janus.kvm.sim.internal;

import java.security.SecureRandom;
import java.util.SplittableRandom;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestCpuException;
import org.janus.kvm.sim.SimHardware;

/**
 * What SEV-SNP and TDX hardware do to a VM's private memory, which the sim otherwise keeps as plain bytes in each
 * guest_memfd's memfd. A page is <em>the guest's</em> once the hardware has given it to the guest (SNP: assigned in
 * the RMP; TDX: mapped in the TD's Secure EPT) and <em>usable</em> once the guest may access it (SNP: the RMP's
 * Validated bit, set by PVALIDATE; TDX: accepted, not PENDING). Pages the firmware puts in at launch
 * (SNP_LAUNCH_UPDATE, TDH.MEM.PAGE.ADD) are both, with the plaintext they were given. Every change of owner ends
 * both and costs the contents:
 * <ul>
 *   <li>SNP: memory holds ciphertext under the guest's key. A page the host converts to shared in place shows the
 *       host that ciphertext; a page that turns private shows the guest the decryption of whatever the host left
 *       there. The sim applies a keystream of the VM's key and the page to the bytes at each change of owner (lazily
 *       on the way to the guest, at its first access, so that validating a large range costs nothing). A private access
 *       to a page that is not validated raises #VC PAGE_NOT_VALIDATED in the guest.</li>
 *   <li>TDX: a page that leaves the TD reads zeros to the host (KVM clears it with MOVDIR64B where the platform needs
 *       it; the TD's plaintext is never exposed), a page KVM maps after finalization is PENDING until accepted, and
 *       accepting fills it with zeros. A private access to a pending page makes KVM mark the VM dead and fail KVM_RUN
 *       with EIO when the TD has SEPT_VE_DISABLE, and raises #VE in the guest otherwise.</li>
 * </ul>
 * Where the state lives follows the hardware: per page of the guest_memfd (the RMP is per physical page; a TD's
 * Secure EPT maps each GPA to one such page), so releasing a page (a punched hole) ends it too. Callers hold the
 * model lock.
 */
abstract sealed class EncryptedMemory permits EncryptedMemory.Snp, EncryptedMemory.Tdx {

    /** The guest's pages of one guest_memfd, by page index in the file. */
    static final class Pages {
        /** The page belongs to the guest (SNP: RMP assigned; TDX: in the Secure EPT). */
        final PageRanges owned = new PageRanges();
        /** The guest may access it (SNP: Validated; TDX: accepted). */
        final PageRanges usable = new PageRanges();
        /** The bytes are still as the last owner left them: the guest's first access transforms them. */
        final PageRanges untransformed = new PageRanges();
        /** Stands in for the physical address in the SNP keystream: different files give different streams. */
        final long tweak = RANDOM.nextLong();
    }

    private static final SecureRandom RANDOM = new SecureRandom();

    final SimVm vm;
    final int page;

    private EncryptedMemory(SimVm vm) {
        this.vm = vm;
        this.page = vm.host().pageSize();
    }

    /** The model for a VM: SNP for an SNP VM on AMD hardware, TDX for a TD, none for every other VM. */
    static EncryptedMemory of(SimVm vm) {
        KernelRules rules = vm.rules();
        if (!rules.isX86()) return null;
        if (vm.type() == VmType.X86_SNP && rules.hardware() == SimHardware.AMD_SNP) return new Snp(vm);
        if (vm.type() == VmType.X86_TDX && rules.tdxAvailable()) return new Tdx(vm);
        return null;
    }

    /**
     * Before a private guest access to {@code gpa}, whose page of {@code slot}'s guest_memfd exists: makes the page the
     * guest's where the hardware does that on a fault, and says why the access cannot proceed, or null.
     */
    abstract SimVm.Stop beforeGuestAccess(Memslot slot, long gpa);

    /** In the in-place mode, pages [first, end) of {@code gmem} turn shared: they stop being the guest's. */
    abstract void leavingGuest(SimGuestMemfd gmem, long first, long end);

    /** In the legacy mode, the VM-wide attribute of [start, end) changed (GPAs, page aligned, end &gt; start). */
    abstract void vmAttributesChanged(long start, long end);

    /** The page at {@code offset} of {@code gmem} was put in by the firmware at launch, with the plaintext it holds now. */
    void placedByFirmware(SimGuestMemfd gmem, long offset) {
        Pages p = gmem.guestPages();
        long n = offset / page;
        p.owned.add(n, n + 1);
        p.usable.add(n, n + 1);
        p.untransformed.remove(n, n + 1);
    }

    /** Pages [first, end) of {@code gmem} were released (a punched hole): the hardware forgets them. */
    void released(SimGuestMemfd gmem, long first, long end) {
        forget(gmem.guestPages(), first, end);
    }

    static void forget(Pages p, long first, long end) {
        p.owned.remove(first, end);
        p.usable.remove(first, end);
        p.untransformed.remove(first, end);
    }

    long pageIndex(Memslot slot, long gpa) { return slot.gmemOffsetOf(gpa) / page; }

    /** SEV-SNP: the RMP, PVALIDATE and memory encrypted under the VM's key. */
    static final class Snp extends EncryptedMemory {
        private final long key = RANDOM.nextLong();

        Snp(SimVm vm) { super(vm); }

        /** KVM's fault path assigns a page to the guest (not validated); a page the guest has not validated raises #VC. */
        @Override SimVm.Stop beforeGuestAccess(Memslot slot, long gpa) {
            Pages p = slot.gmem().guestPages();
            long n = pageIndex(slot, gpa);
            assign(p, n);
            if (!p.usable.contains(n)) return new SimVm.Stop.Raise(new GuestCpuException(GuestCpuException.VECTOR_VC,
                    GuestCpuException.VC_PAGE_NOT_VALIDATED, gpa, String.format("#VC PAGE_NOT_VALIDATED (0x404) at GPA 0x%x:"
                    + " the page is not validated (SEV-SNP: the guest must PVALIDATE a private page before it uses it)", gpa)));
            if (p.untransformed.contains(n)) {
                crypt(slot.gmem(), p, n);
                p.untransformed.remove(n, n + 1);
            }
            return null;
        }

        /** PVALIDATE of the page at {@code gpa}, which is private and has a guest_memfd page. */
        long pvalidate(Memslot slot, long gpa, boolean validate) {
            Pages p = slot.gmem().guestPages();
            long n = pageIndex(slot, gpa);
            assign(p, n);
            if (p.usable.contains(n) == validate) return GuestCpu.PVALIDATE_FAIL_NOUPDATE;
            if (validate) p.usable.add(n, n + 1);
            else p.usable.remove(n, n + 1);
            return GuestCpu.PVALIDATE_SUCCESS;
        }

        /** A page newly the guest's holds what the host left, which the guest's key decrypts to garbage. */
        private static void assign(Pages p, long n) {
            if (p.owned.contains(n)) return;
            p.owned.add(n, n + 1);
            p.untransformed.add(n, n + 1);
        }

        /**
         * The host's conversion to shared (RMPUPDATE): the pages are no longer assigned, nor validated, and the host now
         * reads their ciphertext. A page the guest never touched still holds what the host left.
         */
        @Override void leavingGuest(SimGuestMemfd gmem, long first, long end) {
            Pages p = gmem.guestPages();
            for (long[] r : p.owned.rangesIn(first, end)) {
                long at = r[0];
                for (long[] u : p.untransformed.rangesIn(r[0], r[1])) {
                    for (long n = at; n < u[0]; n++) crypt(gmem, p, n);
                    at = u[1];
                }
                for (long n = at; n < r[1]; n++) crypt(gmem, p, n);
            }
            forget(p, first, end);
        }

        /**
         * KVM does not touch the RMP when a VM-wide attribute changes: the guest_memfd page stays assigned (and
         * validated) until it is released, which is what a VMM's discard of the stale side does.
         */
        @Override void vmAttributesChanged(long start, long end) {}

        /** Turns the page's bytes between plaintext and the host's view (an involution: the same keystream both ways). */
        private void crypt(SimGuestMemfd gmem, Pages p, long n) {
            byte[] b = new byte[page];
            gmem.guestRead(n * page, b, 0, page);
            SplittableRandom stream = new SplittableRandom(key ^ p.tweak ^ (n * 0x9E3779B97F4A7C15L));
            for (int i = 0; i < page; i += 8) {
                long k = stream.nextLong();
                for (int j = 0; j < 8; j++) b[i + j] ^= (byte) (k >>> (8 * j));
            }
            gmem.guestWrite(n * page, b, 0, page);
        }
    }

    /** TDX: the TD's Secure EPT, PENDING pages and TDG.MEM.PAGE.ACCEPT. */
    static final class Tdx extends EncryptedMemory {
        Tdx(SimVm vm) { super(vm); }

        /**
         * KVM maps the page with TDH.MEM.PAGE.AUG (PENDING); the access to a pending page is what
         * tdx_handle_ept_violation treats as "Guest access before accepting": kvm_vm_dead and -EIO with SEPT_VE_DISABLE,
         * else the TDX module's #VE.
         */
        @Override SimVm.Stop beforeGuestAccess(Memslot slot, long gpa) {
            Pages p = slot.gmem().guestPages();
            long n = pageIndex(slot, gpa);
            p.owned.add(n, n + 1);
            if (p.usable.contains(n)) return null;
            if ((vm.tdx().attributes() & TdxModule.ATTR_SEPT_VE_DISABLE) != 0) {
                String why = String.format("guest access before accepting GPA 0x%x (a PENDING page; SEPT_VE_DISABLE)", gpa);
                vm.markDead(why);
                return new SimVm.Stop.RunFails(new KvmException("KVM_RUN", Errno.EIO, why + ": KVM marked the VM dead"));
            }
            return new SimVm.Stop.Raise(new GuestCpuException(GuestCpuException.VECTOR_VE, GuestCpuException.VE_EPT_VIOLATION,
                    gpa, String.format("#VE (EPT violation) at GPA 0x%x: the page is PENDING (TDX: the guest must accept a"
                    + " private page with TDG.MEM.PAGE.ACCEPT before it uses it)", gpa)));
        }

        /**
         * TDG.MEM.PAGE.ACCEPT of each page of [start, end), which lies in {@code slot} and is private, up to the first page
         * accepted already (whose accept answers TDX_PAGE_ALREADY_ACCEPTED).
         *
         * @return the GPA of that page, or {@code end} when every page was accepted
         */
        long accept(Memslot slot, long start, long end) {
            Pages p = slot.gmem().guestPages();
            long first = pageIndex(slot, start);
            long last = pageIndex(slot, end - page) + 1;
            long accepted = p.usable.firstIn(first, last);
            long stop = accepted < 0 ? last : accepted;
            if (stop > first) {
                // TDH.MEM.PAGE.AUG where KVM had not mapped the page yet, then the accept's zeroing.
                p.owned.add(first, stop);
                slot.gmem().zeroPages(first, stop);
                p.usable.add(first, stop);
            }
            return start + (stop - first) * page;
        }

        /** TDH.MEM.PAGE.REMOVE of the TD's pages: the host reads zeros where the TD's plaintext was. */
        @Override void leavingGuest(SimGuestMemfd gmem, long first, long end) {
            Pages p = gmem.guestPages();
            for (long[] r : p.owned.rangesIn(first, end)) gmem.zeroPages(r[0], r[1]);
            forget(p, first, end);
        }

        /** Any change of a GFN's attribute zaps its private mapping: the page leaves the TD (TDH.MEM.PAGE.REMOVE). */
        @Override void vmAttributesChanged(long start, long end) {
            for (Memslot s : vm.slotsWithGuestMemfd(start, end)) {
                long from = Math.max(start, s.gpa());
                long to = Math.min(end, s.end());
                forget(s.gmem().guestPages(), s.gmemOffsetOf(from) / page, s.gmemOffsetOf(to - 1) / page + 1);
            }
        }
    }
}
