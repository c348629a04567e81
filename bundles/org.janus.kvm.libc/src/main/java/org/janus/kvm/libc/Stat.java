package org.janus.kvm.libc;

import com.sun.jna.Memory;
import org.janus.kvm.api.FileStat;

/** fstat(2), decoding struct stat for x86_64 or the generic layout (arm64). */
public final class Stat {
    private Stat() {}

    public static FileStat fstat(int fd) {
        try (Memory m = new Memory(256)) {
            m.clear();
            Sys.check("fstat", Sys.C.fstat(fd, m));
            long ino = m.getLong(8);
            long size = m.getLong(48);
            long blksize = Sys.isX86() ? m.getLong(56) : m.getInt(56);
            long blocks = m.getLong(64);
            return new FileStat(size, blksize, blocks, ino);
        }
    }
}
