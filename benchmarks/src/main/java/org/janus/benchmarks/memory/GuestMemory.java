package org.janus.benchmarks.memory;

import com.google.gson.JsonParser;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.janus.benchmarks.ConversionFootprint.Strategy;
import org.janus.benchmarks.conversion.FileExtents;
import org.janus.benchmarks.report.Results;
import org.janus.guests.internal.ConversionStormFactory;
import org.janus.guests.internal.LinuxSnpBootFactory;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.libc.Stat;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.machine.MachineSpec;
import org.janus.machine.RunSummary;
import org.janus.machine.VmState;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.snp.internal.SevSnpPlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;

/**
 * Memory of a guest under each strategy: peak and final allocated bytes (st_blocks of every memfd behind guest RAM)
 * and resident bytes (the process's RssShmem: guest memory is shmem mapped into it), and Janus's own overhead per
 * VM (heap used after a GC and RssAnon, after the VM is created, over the process before it). Each (guest, size,
 * strategy) runs in a JVM of its own, one after the other, so that no run sees another's memory; the parent
 * collects their figures into one results file.
 *
 * <p>Guests: {@code conversion-storm} (sw-protected; random 4K/2M/1G ranges converted to private, written, converted
 * back and read), {@code linux-snp-boot} (SEV-SNP with OVMF; the guest validates and accepts most of its RAM, as a
 * Linux guest does with lazy acceptance) and {@code round-trip} (the benchmark's own: every page written shared, then
 * each 2 MiB converted to private, written, and back, written: the whole guest round trip through the exit loop).
 *
 * <p>Usage: {@code GuestMemory --out FILE --ovmf FILE [--smoke]}; one run: {@code GuestMemory --one GUEST SIZE STRATEGY --ovmf FILE}.
 */
public final class GuestMemory {
    static final long M = 1L << 20, G = 1L << 30;

    /** One run's figures, in bytes. */
    public record Run(String guest, long guestBytes, String strategy, long peakAllocated, long finalAllocated, long peakResident,
                      long finalResident, long heapOverhead, long rssOverhead, long peakRssOverhead, double seconds, String outcome,
                      long hugePageSize, HugeCounters huge) {}

    /**
     * /proc/meminfo's HugePages_* (pages of the default size, 2 MiB here) before the VM, at the lowest free count while
     * it ran, and after it; and the pool's size.
     */
    public record HugeCounters(long total, long freeBefore, long freeLowest, long freeAfter, long reservedHighest) {}

    public record Json(List<Run> runs, boolean smoke) {}

    private GuestMemory() {}

    public static void main(String[] args) throws Exception {
        Path out = null;
        String ovmf = null;
        boolean smoke = false, huge = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--ovmf" -> ovmf = args[++i];
                case "--smoke" -> smoke = true;
                case "--huge" -> huge = true;
                case "--one" -> {
                    String guest = args[++i];
                    long size = Long.parseLong(args[++i]);
                    Strategy s = Strategy.valueOf(args[++i]);
                    long hugePage = Long.parseLong(args[++i]);
                    String firmware = i + 2 < args.length && args[i + 1].equals("--ovmf") ? args[i + 2] : null;
                    System.out.println("RESULT " + Results.GSON.toJson(one(guest, size, s, hugePage, firmware)).replace("\n", ""));
                    System.exit(0);
                }
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (out == null || ovmf == null) throw new IllegalArgumentException("--out FILE and --ovmf FILE are needed");
        if (huge) {
            Results.write(out, new Json(HugePages.run(smoke, ovmf), smoke));
            return;
        }
        List<Run> runs = new ArrayList<>();
        List<Long> sizes = smoke ? List.of(128 * M) : List.of(G, 8 * G);
        List<String> guests = List.of("conversion-storm", "linux-snp-boot", "round-trip");
        for (long size : sizes) {
            for (String guest : guests) {
                // One at a time: an 8 GiB guest kept twice is 16 GiB of a 24 GiB machine others share.
                for (Strategy s : Strategy.values()) runs.add(child(guest, size, s, 0, ovmf));
            }
        }
        Results.write(out, new Json(runs, smoke));
    }

    /** Runs one (guest, size, strategy, huge page size) in a JVM of its own and reads its figures. */
    static Run child(String guest, long size, Strategy s, long hugePage, String ovmf) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-Djna.nosys=true", "-cp", System.getProperty("java.class.path"),
                GuestMemory.class.getName(), "--one", guest, Long.toString(size), s.name(), Long.toString(hugePage), "--ovmf", ovmf));
        System.out.printf("memory: %s, %d MiB, %s%s%n", guest, size / M, s.label(), hugePage == 0 ? "" : ", shared face on " + hugePage / M + " MiB hugetlb pages");
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.MINUTES);
        String line = text.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
        Run r = line == null ? new Run(guest, size, s.name(), -1, -1, -1, -1, -1, -1, -1, 0,
                "failed (exit " + p.exitValue() + "): " + text.lines().reduce((a, b) -> b).orElse(""), hugePage, null)
                : Results.GSON.fromJson(JsonParser.parseString(line.substring(7)), Run.class);
        System.out.printf("  peak allocated %d MiB, final %d MiB, peak resident %d MiB; Janus heap +%d MiB, RssAnon +%d MiB: %s%s%n",
                r.peakAllocated() / M, r.finalAllocated() / M, r.peakResident() / M, r.heapOverhead() / M, r.rssOverhead() / M, r.outcome(),
                r.huge() == null ? "" : "; " + r.huge());
        return r;
    }

    /** A HugePages_* field of /proc/meminfo. */
    static long meminfo(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo")))
                if (l.startsWith(field + ":")) return Long.parseLong(l.replaceAll("\\D", ""));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return -1;
    }

    /** The memfds behind guest RAM in this process: legacy's shared faces, guest_memfds (the sim's). */
    static long allocated() {
        long sum = 0;
        for (FileExtents.Memfd m : FileExtents.memfds("janus-")) if (m.name().endsWith("-shared")) sum += allocated(m);
        for (FileExtents.Memfd m : FileExtents.memfds("kvm-gmem-sim")) sum += allocated(m);
        return sum;
    }

    /** A listed memfd's allocation; 0 when the VM, ending meanwhile, has closed it since it was listed. */
    private static long allocated(FileExtents.Memfd m) {
        try {
            return Stat.fstat(m.fd()).allocatedBytes();
        } catch (KvmException e) {
            if (e.errno() == Errno.EBADF) return 0;
            throw e;
        }
    }

    /** kB fields of /proc/self/status, in bytes. */
    static long status(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith(field + ":")) return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return -1;
    }

    static long heapAfterGc() {
        for (int i = 0; i < 3; i++) System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static Run one(String guest, long size, Strategy s, long hugePage, String ovmf) throws Exception {
        boolean inPlace = s == Strategy.IN_PLACE;
        boolean snp = guest.equals("linux-snp-boot");
        ServiceDirectory services = new ServiceDirectory()
                .addKvm(SimKvm.create(s.profile(), snp ? SimHardware.AMD_SNP : SimHardware.X86))
                .addPlatform(new NonePlatform()).addPlatform(new SwProtectedPlatform()).addPlatform(new SevSnpPlatform())
                .addBackend(inPlace ? new GuestMemfdBackend() : new LegacyBackend(s == Strategy.LEGACY_DISCARD))
                .addGuest(ConversionStormFactory.NAME, new ConversionStormFactory())
                .addGuest(LinuxSnpBootFactory.NAME, new LinuxSnpBootFactory())
                .addGuest("round-trip", new RoundTripGuest.Factory())
                .addGuest("sub-pages", new SubPageGuest.Factory());
        VmManagerImpl manager = new VmManagerImpl(services);
        String spec = spec(guest, size, s, ovmf);
        if (hugePage != 0) spec = spec.replace("\"memory\": {", "\"memory\": { \"hugePages\": \"" + (hugePage == G ? "1G" : "2M") + "\",");
        long hugeFreeBefore = meminfo("HugePages_Free");
        long hugeFreeLowest = hugeFreeBefore, hugeReservedHighest = meminfo("HugePages_Rsvd");
        // The process before the VM: classes loaded by a first, tiny parse, then a GC.
        MachineSpec parsed = MachineSpec.parse(spec, Path.of("."));
        long heap0 = heapAfterGc(), anon0 = status("RssAnon"), shmem0 = status("RssShmem");
        long t0 = System.nanoTime();
        String id = manager.create(parsed);
        long heapOverhead = heapAfterGc() - heap0;
        long rssOverhead = status("RssAnon") - anon0;
        manager.start(id);
        long peakAllocated = 0, peakResident = 0, peakAnon = 0;
        RunSummary summary = null;
        while (summary == null) {
            peakAllocated = Math.max(peakAllocated, allocated());
            peakResident = Math.max(peakResident, status("RssShmem") - shmem0);
            peakAnon = Math.max(peakAnon, status("RssAnon") - anon0);
            hugeFreeLowest = Math.min(hugeFreeLowest, meminfo("HugePages_Free"));
            hugeReservedHighest = Math.max(hugeReservedHighest, meminfo("HugePages_Rsvd"));
            VmState st = manager.state(id);
            if (st instanceof VmState.Stopped || st instanceof VmState.Failed) summary = manager.awaitEnd(id, Duration.ofMinutes(5));
            else {
                // Sampling, not waiting for an outcome: the VM ends by itself, and awaitEnd returns as soon as it has.
                try {
                    summary = manager.awaitEnd(id, Duration.ofMillis(25));
                } catch (java.util.concurrent.TimeoutException running) {
                    // still running: sample again
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long finalAllocated = summary.memory().stream().mapToLong(m -> m.figures().allocated()).sum();
        long finalResident = summary.memory().stream().mapToLong(m -> m.figures().resident()).sum();
        peakAllocated = Math.max(peakAllocated, finalAllocated);
        peakResident = Math.max(peakResident, finalResident);
        String outcome = summary.endedNormally() ? "ok" : "ended " + summary.end() + ": " + summary.console();
        HugeCounters huge = new HugeCounters(meminfo("HugePages_Total"), hugeFreeBefore, hugeFreeLowest, meminfo("HugePages_Free"),
                hugeReservedHighest);
        return new Run(guest, size, s.name(), peakAllocated, finalAllocated, peakResident, finalResident, heapOverhead, rssOverhead,
                peakAnon, seconds, outcome, hugePage, huge);
    }

    static String spec(String guest, long size, Strategy s, String ovmf) {
        String backend = s == Strategy.IN_PLACE ? "guest-memfd" : "legacy";
        String profile = s.profile().id();
        return switch (guest) {
            case "conversion-storm", "round-trip", "sub-pages" -> """
                    { "name": "memory", "kvm": { "provider": "sim", "profile": "%s", "hardware": "x86" },
                      "platform": { "id": "sw-protected", "initialState": "shared" },
                      "memory": { "backend": "%s", "ram": [ { "name": "ram", "gpa": 0, "size": %d } ] },
                      "vcpus": { "count": 2 },
                      "guest": { "program": "%s", "options": { %s } } }
                    """.formatted(profile, backend, size, guest, guest.equals("conversion-storm")
                    ? "\"seed\": 7, \"iterations\": 24, \"pagesPerRange\": 4096, \"sizes\": [\"4K\", \"2M\", \"1G\"]" : "");
            case "linux-snp-boot" -> {
                // Below 4 GiB: 2 GiB at most (the hole for OVMF and the IOAPIC); the rest above 4 GiB. The guest accepts
                // all but 64 MiB of the region it lives in.
                long low = Math.min(size, 2 * G), high = size - low;
                String ram = "{ \"name\": \"ram-low\", \"gpa\": 0, \"size\": " + low + " }, { \"name\": \"bios\", \"gpa\": \"0xffe00000\", \"size\": \"2M\" }"
                        + (high > 0 ? ", { \"name\": \"ram-high\", \"gpa\": \"4G\", \"size\": " + high + " }" : "");
                long accept = (Math.max(low, high) - 64 * M) / (2 * M) * (2 * M);
                yield """
                        { "name": "memory", "kvm": { "provider": "sim", "profile": "%s", "hardware": "amd-snp" },
                          "platform": { "id": "sev-snp", "policy": "0x30000" },
                          "memory": { "backend": "%s", "ram": [ %s ], "mmio": [ { "name": "ioapic", "gpa": "0xfec00000", "size": "4K" } ] },
                          "vcpus": { "count": 2, "model": "EPYC-v4" },
                          "images": { "firmware": "%s" },
                          "guest": { "program": "linux-snp-boot", "options": { "accept": %d, "chunk": "2M", "swiotlb": "4M", "seed": 3 } } }
                        """.formatted(profile, backend, ram, ovmf, accept);
            }
            default -> throw new IllegalArgumentException("unknown guest " + guest);
        };
    }
}
