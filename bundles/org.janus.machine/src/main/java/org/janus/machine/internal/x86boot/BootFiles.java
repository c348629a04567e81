package org.janus.machine.internal.x86boot;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a boot image once, with its size limit checked before anything is read. The file is read through one
 * stream that stops one byte past the limit, so that a file growing between the size check and the read is still
 * refused instead of filling the heap.
 */
public final class BootFiles {
    private BootFiles() {}

    /**
     * @param what {@code kernel} or {@code initrd}, for the message
     * @throws BootImageException when the file is missing, unreadable, empty or larger than {@code limit}
     */
    public static byte[] read(Path file, long limit, String what) {
        if (limit <= 0 || limit > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("limit " + limit);
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new BootImageException(what + " " + file + " cannot be read: " + e.getMessage(), e);
        }
        if (size > limit) throw new BootImageException(what + " " + file + " is " + size + " bytes, more than the " + limit
                + " bytes a " + what + " may be");
        if (size == 0) throw new BootImageException(what + " " + file + " is empty");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] data = in.readNBytes((int) limit + 1);
            if (data.length > limit) throw new BootImageException(what + " " + file + " grew past the " + limit
                    + " bytes a " + what + " may be while it was read");
            if (data.length == 0) throw new BootImageException(what + " " + file + " is empty");
            return data;
        } catch (IOException e) {
            throw new BootImageException(what + " " + file + " cannot be read: " + e.getMessage(), e);
        }
    }
}
