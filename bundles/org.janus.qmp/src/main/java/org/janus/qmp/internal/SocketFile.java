package org.janus.qmp.internal;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A listening Unix socket at a path, readable and writable by its owner only (0600) from the moment it has a name
 * anyone else could use: it is bound inside a new directory of mode 0700 next to the path, set to 0600 there, and
 * then renamed onto the path (one rename(2), which also replaces a stale socket atomically). A socket file already
 * at the path is replaced only when nothing accepts connections on it; anything that is not a socket is left alone.
 * {@link #close()} removes the file, unless it is no longer the one this created.
 */
final class SocketFile implements AutoCloseable {
    /** sun_path holds 108 bytes with the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path path;
    private final ServerSocketChannel channel;
    private final Object fileKey;

    private SocketFile(Path path, ServerSocketChannel channel, Object fileKey) {
        this.path = path;
        this.channel = channel;
        this.fileKey = fileKey;
    }

    Path path() { return path; }

    ServerSocketChannel channel() { return channel; }

    /**
     * Listens at {@code path}, creating missing parent directories with mode 0700.
     *
     * @throws IOException naming the path and what is in the way: a live socket, a file that is not a socket, a
     *         path too long for a Unix socket, or the system call that failed
     */
    static SocketFile listen(Path path, int backlog) throws IOException {
        Path target = path.toAbsolutePath().normalize();
        if (bytes(target) > MAX_PATH_BYTES)
            throw new IOException(target + " is too long for a Unix socket (" + bytes(target) + " bytes; at most " + MAX_PATH_BYTES + ")");
        Path parent = target.getParent();
        Files.createDirectories(parent, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        checkReplaceable(target);

        Path dir = privateDirectory(parent);
        Path staging = dir.resolve("s");
        ServerSocketChannel channel = null;
        try {
            if (bytes(staging) > MAX_PATH_BYTES)
                throw new IOException("cannot create " + target + ": its directory's path is too long to stage the socket in ("
                        + staging + ")");
            channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            channel.bind(UnixDomainSocketAddress.of(staging), backlog);
            Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rw-------"));
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            Object key = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            return new SocketFile(target, channel, key);
        } catch (IOException | RuntimeException e) {
            if (channel != null) channel.close();
            Files.deleteIfExists(staging);
            throw e;
        } finally {
            Files.deleteIfExists(dir);
        }
    }

    /** Refuses when something other than a stale socket is at the path. */
    private static void checkReplaceable(Path target) throws IOException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(target, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException absent) {
            return;
        }
        if ((mode & S_IFMT) != S_IFSOCK) throw new IOException(target + " exists and is not a socket; not replacing it");
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(target))) {
            throw new IOException("another process listens on " + target + "; not replacing it");
        } catch (ConnectException stale) {
            // nothing accepts connections there: a socket left behind by a process that ended
        }
    }

    /** A new directory of mode 0700 beside the socket's path, with a short name (socket paths are short). */
    private static Path privateDirectory(Path parent) throws IOException {
        SecureRandom random = new SecureRandom();
        for (int i = 0; i < 16; i++) {
            byte[] b = new byte[4];
            random.nextBytes(b);
            try {
                return Files.createDirectory(parent.resolve(".qmp-" + HexFormat.of().formatHex(b)),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException taken) {
                // try another name
            }
        }
        throw new IOException("cannot create a private directory in " + parent);
    }

    private static int bytes(Path p) { return p.toString().getBytes(StandardCharsets.UTF_8).length; }

    /** Stops listening and removes the socket file if it is still the one created here. */
    @Override public void close() throws IOException {
        channel.close();
        try {
            Object key = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            if (Objects.equals(key, fileKey)) Files.delete(path);
        } catch (NoSuchFileException gone) {
            // removed by someone else already
        }
    }
}
