package org.janus.benchmarks.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.janus.benchmarks.ConversionFootprint.Strategy;

/**
 * Legacy RAM with its shared face on 2 MiB hugetlb pages, next to the same guest on 4 KiB pages and in place: the
 * {@code sub-pages} guest converts every 4 KiB of each 2 MiB page to private. A 4 KiB punch in a hugetlb file frees
 * nothing, so the stale shared huge pages stay and memory doubles, where 4 KiB-backed legacy gives each page back.
 * The pool is reserved through /proc/sys/vm/nr_hugepages for the run and restored after it.
 */
final class HugePages {
    static final long M2 = 2L << 20;
    static final Path NR_HUGEPAGES = Path.of("/proc/sys/vm/nr_hugepages");

    private HugePages() {}

    static List<GuestMemory.Run> run(boolean smoke, String ovmf) throws Exception {
        long size = smoke ? 32L << 20 : 1L << 30;
        long pages = size / M2;
        List<GuestMemory.Run> runs = new ArrayList<>();
        runs.add(GuestMemory.child("sub-pages", size, Strategy.IN_PLACE, 0, ovmf));
        runs.add(GuestMemory.child("sub-pages", size, Strategy.LEGACY_DISCARD, 0, ovmf));
        long before = Long.parseLong(Files.readString(NR_HUGEPAGES).trim());
        String refused = null;
        try {
            try {
                Files.writeString(NR_HUGEPAGES, Long.toString(before + pages));
            } catch (IOException e) {
                refused = "cannot write " + NR_HUGEPAGES + " (" + e.getMessage() + "): reserving huge pages needs root";
            }
            if (refused == null && GuestMemory.meminfo("HugePages_Free") - GuestMemory.meminfo("HugePages_Rsvd") < pages)
                refused = "the kernel found only " + GuestMemory.meminfo("HugePages_Free") + " of " + pages + " 2 MiB pages (memory too fragmented)";
            for (Strategy s : List.of(Strategy.LEGACY_DISCARD, Strategy.LEGACY_KEEP)) {
                if (refused == null) runs.add(GuestMemory.child("sub-pages", size, s, M2, ovmf));
                else runs.add(new GuestMemory.Run("sub-pages", size, s.name(), -1, -1, -1, -1, -1, -1, -1, 0, "not run: " + refused, M2, null));
            }
        } finally {
            Files.writeString(NR_HUGEPAGES, Long.toString(before));
        }
        return runs;
    }
}
