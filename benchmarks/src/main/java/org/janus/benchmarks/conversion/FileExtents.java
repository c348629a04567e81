package org.janus.benchmarks.conversion;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * How many bytes of a file range are allocated, from the kernel: lseek(SEEK_DATA) and lseek(SEEK_HOLE) walk the
 * allocated extents of a memfd (shmem answers them page by page, as st_blocks counts them), so a range's count is
 * exact even while other vCPUs allocate elsewhere in the same file. And the memfds of this process by name, from
 * /proc/self/fd.
 */
public final class FileExtents {
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;

    interface C extends Library {
        C INSTANCE = Native.load("c", C.class);

        long lseek(int fd, long offset, int whence);
    }

    private FileExtents() {}

    /** Allocated bytes of [offset, offset + length) of {@code fd}. */
    public static long allocated(int fd, long offset, long length) {
        long end = offset + length;
        long total = 0;
        long pos = offset;
        while (pos < end) {
            long data = C.INSTANCE.lseek(fd, pos, SEEK_DATA);
            if (data < 0 || data >= end) break;      // ENXIO: no data after pos
            long hole = C.INSTANCE.lseek(fd, data, SEEK_HOLE);
            if (hole < 0) hole = end;
            total += Math.min(hole, end) - data;
            pos = hole;
        }
        return total;
    }

    /** A memfd this process holds: its descriptor and its name (without "memfd:" and " (deleted)"). */
    public record Memfd(int fd, String name) {}

    /** The memfds this process holds whose names start with {@code prefix}. */
    public static List<Memfd> memfds(String prefix) {
        List<Memfd> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException gone) {
                    continue;
                }
                if (!target.startsWith("/memfd:")) continue;
                String name = target.substring(7).replace(" (deleted)", "");
                if (name.startsWith(prefix)) out.add(new Memfd(Integer.parseInt(p.getFileName().toString()), name));
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc/self/fd: " + e, e);
        }
        return out;
    }
}
