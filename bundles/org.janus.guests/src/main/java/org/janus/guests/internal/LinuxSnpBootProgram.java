package org.janus.guests.internal;

import static org.janus.guests.internal.GuestOps.M2;
import static org.janus.guests.internal.GuestOps.PAGE;
import static org.janus.guests.internal.GuestOps.mib;
import static org.janus.guests.internal.GuestOps.range;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32;
import org.janus.guests.internal.GuestOps.Face;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.memory.api.RamRegion;

/**
 * The memory behaviour of a Linux guest booting on SEV-SNP after OVMF has handed over, on every vCPU:
 * <ol>
 *   <li>The boot CPU (vCPU 0) first makes the boot mailbox shared (the first page of the kernel area, where the vCPUs
 *       signal each other with shared accesses, since the others must not touch private memory the boot CPU has not
 *       validated yet). Standing in for OVMF, which validates system RAM before the kernel runs, it then validates
 *       the rest of the kernel area and the SWIOTLB region (PVALIDATE). It sets up what the host must see: one GHCB
 *       page per vCPU and the SWIOTLB bounce region, each rescinded (PVALIDATE off) and converted to shared with
 *       MAP_GPA_RANGE as Linux's set_memory_decrypted does, and the memory still to accept. RAM of an SNP VM starts
 *       private in the host's tracker; Linux's acceptance (a page-state change to private, then PVALIDATE) would
 *       convert nothing there, so the program first hands that memory to the host (MAP_GPA_RANGE to shared, nothing
 *       to rescind: it was never validated), as a host holding unaccepted memory shared would have it. It then
 *       releases the other vCPUs.</li>
 *   <li>Each vCPU accepts its share of that memory lazily, chunk by chunk, alternating two ways: as Linux does
 *       (MAP_GPA_RANGE to private for the chunk, the exit KVM makes of a GHCB page-state change, then PVALIDATE) and
 *       by validating the chunk without asking first, so that each page's PVALIDATE (a private access) raises a memory
 *       fault the host answers with an implicit conversion. A private access to a page not validated would raise #VC.
 *       Every page gets a 64-byte line derived from (seed, chunk, page).</li>
 *   <li>After each chunk, I/O through its bounce buffer: private data of the chunk is copied into the vCPU's slot of
 *       the SWIOTLB region (shared accesses), a request naming it goes into the vCPU's GHCB, and its CRC-32 is
 *       written to a device doorbell port. The vCPU checks that the bounce buffer and the GHCB read back what it
 *       wrote and that the private source is unchanged.</li>
 *   <li>At the end each vCPU reads every line of its chunks again (private data survived every other conversion),
 *       the boot CPU checks every GHCB still holds its vCPU's registration, prints how the boot went and writes exit
 *       code 0 to port 0xf4.</li>
 * </ol>
 * A conversion of the wrong range, a lost page or a bounce buffer that is not the shared page the guest wrote makes
 * the guest throw with the address and both values, which fails the VM with that message.
 */
final class LinuxSnpBootProgram implements GuestProgram {
    /** A doorbell of a virtio-like block device: nothing listens, so a write only shows in the exit counts. */
    static final int DOORBELL_PORT = 0xc050;
    /** The most bytes one bounce-buffer transfer copies. */
    static final int MAX_TRANSFER = 64 << 10;
    static final int MAX_VCPUS = 256;
    /** How long secondary vCPUs wait for the boot CPU, and it for them. */
    static final long WAIT_MILLIS = 60_000;
    private static final long BOOTED = 0x534e50424f4f5444L;        // "SNPBOOTD"
    private static final long DONE = 0x534e50444f4e4521L;          // "SNPDONE!"
    private static final long GHCB_MAGIC = 0x4748434252454721L;    // "GHCBREG!"
    private static final long IO_REQUEST = 0x494f5245515354L;      // "IOREQST"
    private static final int LINE = 64;

    /**
     * Where the program keeps what: a 2 MiB "kernel" area (the shared boot mailbox with the boot flags in its first
     * page, the GHCBs from 1 MiB), then the SWIOTLB region, then the memory to accept, each 2 MiB aligned.
     */
    record Layout(long kernel, long swiotlb, long swiotlbSize, long accept, long acceptSize, long chunk) {
        static Optional<Layout> place(List<RamRegion> ram, long acceptSize, long chunk, long swiotlbSize) {
            long swiotlbSpan = (swiotlbSize + M2 - 1) / M2 * M2;
            return GuestOps.place(ram, M2 + swiotlbSpan + acceptSize, M2, GuestOps.DATA_FLOOR)
                    .map(k -> new Layout(k, k + M2, swiotlbSize, k + M2 + swiotlbSpan, acceptSize, chunk));
        }

        static long bytesNeeded(long acceptSize, long swiotlbSize) { return M2 + (swiotlbSize + M2 - 1) / M2 * M2 + acceptSize; }

        long mailbox() { return kernel; }

        long bootFlag() { return kernel; }

        long doneFlag(int vcpu) { return kernel + 8L * (1 + vcpu); }

        long ghcb(int vcpu) { return kernel + (1L << 20) + vcpu * PAGE; }

        int chunks() { return (int) (acceptSize / chunk); }

        long chunkAt(int index) { return accept + index * chunk; }

        long slotSize(int vcpus) { return swiotlbSize / vcpus / PAGE * PAGE; }

        long slot(int vcpu, int vcpus) { return swiotlb + vcpu * slotSize(vcpus); }
    }

    private final GuestProgramContext context;
    private final Layout layout;
    private final long seed;

    LinuxSnpBootProgram(GuestProgramContext context, Layout layout, long seed) {
        this.context = context;
        this.layout = layout;
        this.seed = seed;
    }

    @Override public void run(GuestCpu cpu) throws InterruptedException {
        int vcpu = cpu.vcpuId();
        int vcpus = context.vcpuCount();
        if (vcpu == 0) bootCpuSetup(cpu);
        else awaitWord(cpu, layout.bootFlag(), BOOTED ^ seed, "vCPU " + vcpu + " was not brought up by the boot CPU");

        registerGhcb(cpu, vcpu);
        int byChange = 0;
        int byTouch = 0;
        int transfers = 0;
        for (int c = vcpu; c < layout.chunks(); c += vcpus) {
            // Alternate per vCPU: its 1st, 3rd, ... chunk by page-state change, its 2nd, 4th, ... by touch.
            boolean explicit = (c / vcpus) % 2 == 0;
            accept(cpu, c, explicit);
            if (explicit) byChange++;
            else byTouch++;
            bounceIo(cpu, vcpu, c);
            transfers++;
        }
        for (int c = vcpu; c < layout.chunks(); c += vcpus) checkLines(cpu, c, "at the end of the boot");
        int chunks = byChange + byTouch;
        GuestOps.print(cpu, context, String.format("[vcpu %d] accepted %s in %d chunks: %d by page-state change (MAP_GPA_RANGE),"
                + " %d by touching (PVALIDATE without a page-state change: implicit conversion on memory faults); %d"
                + " bounce-buffer transfers with their checksums; private data intact", vcpu, mib(chunks * layout.chunk()), chunks, byChange, byTouch, transfers));
        GuestOps.writeLong(cpu, Face.SHARED, layout.doneFlag(vcpu), DONE ^ seed ^ vcpu);
        if (vcpu != 0) {
            cpu.hlt();
            return;
        }
        for (int other = 1; other < vcpus; other++)
            awaitWord(cpu, layout.doneFlag(other), DONE ^ seed ^ other, "vCPU " + other + " did not finish booting");
        for (int other = 0; other < vcpus; other++) checkGhcb(cpu, other);
        GuestOps.print(cpu, context, String.format("Run /init as init process: %d vCPUs up, %s accepted, SWIOTLB and %d GHCBs"
                + " shared; exit code 0", vcpus, mib(layout.acceptSize()), vcpus));
        GuestOps.exit(cpu, context, 0);
    }

    private void bootCpuSetup(GuestCpu cpu) {
        int vcpus = context.vcpuCount();
        GuestOps.print(cpu, context, "Linux version 6.12.0-janus (linux-snp-boot guest program) #1 SMP");
        GuestOps.print(cpu, context, "Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP");
        GuestOps.convert(cpu, layout.mailbox(), PAGE, false, "boot mailbox");
        long validated = M2 - PAGE;
        GuestOps.takePrivate(cpu, context, layout.mailbox() + PAGE, validated, "validating the kernel area");
        GuestOps.takePrivate(cpu, context, layout.swiotlb(), layout.swiotlbSize(), "validating the SWIOTLB region");
        GuestOps.print(cpu, context, "SEV-SNP: " + mib(validated + layout.swiotlbSize()) + " of system RAM validated (PVALIDATE),"
                + " the boot mailbox at " + range(layout.mailbox(), PAGE) + " shared");
        for (int v = 0; v < vcpus; v++) GuestOps.makeShared(cpu, context, layout.ghcb(v), PAGE, "GHCB of vCPU " + v);
        GuestOps.print(cpu, context, "SEV: " + vcpus + " GHCB pages at " + range(layout.ghcb(0), vcpus * PAGE) + " made shared");
        GuestOps.makeShared(cpu, context, layout.swiotlb(), layout.swiotlbSize(), "SWIOTLB");
        GuestOps.print(cpu, context, String.format("software IO TLB: mapped [mem 0x%016x-0x%016x] (%s), shared, %s per vCPU",
                layout.swiotlb(), layout.swiotlb() + layout.swiotlbSize() - 1, mib(layout.swiotlbSize()), mib(layout.slotSize(vcpus))));
        GuestOps.convert(cpu, layout.accept(), layout.acceptSize(), false, "handing unaccepted memory to the host");
        GuestOps.print(cpu, context, "unaccepted memory: " + range(layout.accept(), layout.acceptSize()) + " ("
                + mib(layout.acceptSize()) + ") held shared by the host, accepted lazily in " + mib(layout.chunk()) + " chunks");
        GuestOps.writeLong(cpu, Face.SHARED, layout.bootFlag(), BOOTED ^ seed);
        GuestOps.print(cpu, context, "smp: Bringing up secondary CPUs: " + (vcpus - 1));
    }

    /** Waits (polling the shared boot mailbox, as a CPU spinning on a flag) until {@code gpa} holds {@code value}. */
    private void awaitWord(GuestCpu cpu, long gpa, long value, String failure) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT_MILLIS * 1_000_000;
        while (GuestOps.readLong(cpu, Face.SHARED, gpa) != value) {
            if (System.nanoTime() > deadline) throw new IllegalStateException(failure + " within " + WAIT_MILLIS / 1000 + " s");
            Thread.sleep(1);
        }
    }

    private byte[] ghcbRegistration(int vcpu) {
        byte[] header = new byte[32];
        System.arraycopy(GuestOps.le(GHCB_MAGIC), 0, header, 0, 8);
        System.arraycopy(GuestOps.le(vcpu), 0, header, 8, 8);
        System.arraycopy(GuestOps.le(seed), 0, header, 16, 8);
        System.arraycopy(GuestOps.le(layout.ghcb(vcpu)), 0, header, 24, 8);
        return header;
    }

    private void registerGhcb(GuestCpu cpu, int vcpu) {
        cpu.writeShared(layout.ghcb(vcpu), ghcbRegistration(vcpu));
        checkGhcb(cpu, vcpu);
    }

    private void checkGhcb(GuestCpu cpu, int vcpu) {
        byte[] want = ghcbRegistration(vcpu);
        byte[] got = cpu.readShared(layout.ghcb(vcpu), want.length);
        if (!Arrays.equals(got, want)) throw new IllegalStateException(String.format("vCPU %d: the GHCB of vCPU %d at 0x%x does not"
                + " hold its registration (shared read): got %s, wrote %s", cpu.vcpuId(), vcpu, layout.ghcb(vcpu),
                GuestOps.hexBytes(got), GuestOps.hexBytes(want)));
    }

    private void accept(GuestCpu cpu, int c, boolean explicit) {
        long start = layout.chunkAt(c);
        String where = "vCPU " + cpu.vcpuId() + " accepting chunk " + c + " " + range(start, layout.chunk());
        if (explicit) {
            GuestOps.makePrivate(cpu, context, start, layout.chunk(), where);
        } else {
            // PVALIDATE without a page-state change first: with the chunk still shared, each page's is a memory fault.
            for (long page = start; page < start + layout.chunk(); page += PAGE) GuestOps.takePrivate(cpu, context, page, PAGE, where);
        }
        for (long page = start; page < start + layout.chunk(); page += PAGE) cpu.writePrivate(lineAt(page), line(c, page));
        checkLines(cpu, c, "right after accepting it " + (explicit ? "by page-state change" : "by touching it"));
    }

    /** Where a page's line sits: at a different offset in neighbouring pages, so that pages mixed up show. */
    private static long lineAt(long page) { return page + ((page / PAGE) % (PAGE / LINE)) * LINE; }

    private byte[] line(int chunk, long page) { return GuestOps.pattern(seed, ((long) chunk << 40) ^ page, LINE); }

    private void checkLines(GuestCpu cpu, int c, String when) {
        long start = layout.chunkAt(c);
        for (long page = start; page < start + layout.chunk(); page += PAGE) {
            byte[] want = line(c, page);
            byte[] got = cpu.readPrivate(lineAt(page), LINE);
            if (!Arrays.equals(got, want)) throw new IllegalStateException(String.format("vCPU %d: chunk %d %s, %s: the private line"
                    + " at 0x%x reads %s, expected %s", cpu.vcpuId(), c, range(start, layout.chunk()), when, lineAt(page),
                    GuestOps.hexBytes(got), GuestOps.hexBytes(want)));
        }
    }

    /** Writes the start of a chunk out through the vCPU's bounce slot, as a block device driver under SWIOTLB does. */
    private void bounceIo(GuestCpu cpu, int vcpu, int c) {
        int vcpus = context.vcpuCount();
        long source = layout.chunkAt(c);
        int length = (int) Math.min(Math.min(layout.slotSize(vcpus), MAX_TRANSFER), layout.chunk());
        long slot = layout.slot(vcpu, vcpus);
        String where = String.format("vCPU %d: bounce I/O of chunk %d (%d bytes from private 0x%x through shared 0x%x)",
                vcpu, c, length, source, slot);
        byte[] data = cpu.readPrivate(source, length);
        cpu.writeShared(slot, data);
        byte[] bounced = cpu.readShared(slot, length);
        int diff = GuestOps.firstDifference(bounced, data);
        if (diff >= 0) throw new IllegalStateException(String.format("%s: the bounce buffer reads back 0x%02x at 0x%x, the guest"
                + " wrote 0x%02x there", where, bounced[diff], slot + diff, data[diff]));
        CRC32 crc = new CRC32();
        crc.update(data);
        long checksum = crc.getValue();
        byte[] request = new byte[32];
        System.arraycopy(GuestOps.le(IO_REQUEST), 0, request, 0, 8);
        System.arraycopy(GuestOps.le(slot), 0, request, 8, 8);
        System.arraycopy(GuestOps.le(length), 0, request, 16, 8);
        System.arraycopy(GuestOps.le(checksum), 0, request, 24, 8);
        long requestAt = layout.ghcb(vcpu) + 0x100;
        cpu.writeShared(requestAt, request);
        cpu.out(DOORBELL_PORT, 4, checksum);
        byte[] seen = cpu.readShared(requestAt, request.length);
        if (!Arrays.equals(seen, request)) throw new IllegalStateException(where + ": the request in the GHCB at 0x"
                + Long.toHexString(requestAt) + " reads " + GuestOps.hexBytes(seen) + ", the guest wrote " + GuestOps.hexBytes(request));
        byte[] again = cpu.readPrivate(source, length);
        diff = GuestOps.firstDifference(again, data);
        if (diff >= 0) throw new IllegalStateException(String.format("%s: the private source changed during the I/O: 0x%02x at"
                + " 0x%x, was 0x%02x", where, again[diff], source + diff, data[diff]));
    }
}
