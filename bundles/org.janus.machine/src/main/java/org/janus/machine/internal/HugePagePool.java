package org.janus.machine.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The host's pool of huge pages of one size, as the kernel shows it under /sys/kernel/mm/hugepages/hugepages-<kB>kB/
 * (for 2 MiB the same figures as HugePages_Total, HugePages_Free and HugePages_Rsvd of /proc/meminfo). A hugetlb
 * mapping reserves its pages when it is made, so what a new VM can have is the free pages not yet reserved.
 *
 * @param total nr_hugepages
 * @param free free_hugepages: not in use (reserved ones included)
 * @param reserved resv_hugepages: promised to mappings, not yet faulted in
 */
record HugePagePool(long pageSize, long total, long free, long reserved) {
    static final Path SYSFS = Path.of("/sys/kernel/mm/hugepages");

    /** Free pages no mapping has reserved: what a new mapping can reserve. */
    long available() { return Math.max(0, free - reserved); }

    /** The directory of the pool of {@code pageSize} pages. */
    static Path directory(long pageSize) { return SYSFS.resolve("hugepages-" + (pageSize >> 10) + "kB"); }

    /** The pool of {@code pageSize} pages, or empty when the host has no such page size. */
    static Optional<HugePagePool> read(long pageSize) {
        Path dir = directory(pageSize);
        if (!Files.isDirectory(dir)) return Optional.empty();
        try {
            return Optional.of(new HugePagePool(pageSize, number(dir, "nr_hugepages"), number(dir, "free_hugepages"), number(dir, "resv_hugepages")));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static long number(Path dir, String file) throws IOException { return Long.parseLong(Files.readString(dir.resolve(file)).trim()); }

    /** What to write where to make {@code needed} pages available. */
    String howToReserve(long needed) {
        long want = total + needed - available();
        return "echo " + want + " > " + (pageSize == 2L << 20 ? "/proc/sys/vm/nr_hugepages" : directory(pageSize).resolve("nr_hugepages"));
    }
}
