package org.janus.platform.snp.measure;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The SHA-256 hashes of what a VMM hands an OVMF guest for measured direct boot: the kernel, the initrd and the
 * command line. The VMM puts them in OVMF's SEV hash table, which the launch measures; OVMF checks the blobs it
 * receives through the VMM's firmware interface (QEMU's fw_cfg) against them before it starts the kernel.
 *
 * <p>How each blob is hashed, as QEMU does it and sev-snp-measure models it: the kernel file as a whole; the initrd
 * file, or no bytes at all without one; the command line as its bytes plus a terminating NUL, so that an absent
 * command line hashes as a single NUL.
 */
public final class KernelHashes {
    /** Bytes of a SHA-256 hash. */
    public static final int HASH_SIZE = 32;

    private final byte[] kernel;
    private final byte[] initrd;
    private final byte[] cmdline;

    private KernelHashes(byte[] kernel, byte[] initrd, byte[] cmdline) {
        this.kernel = kernel;
        this.initrd = initrd;
        this.cmdline = cmdline;
    }

    /**
     * @param kernel  the kernel image as passed to QEMU's {@code -kernel}
     * @param initrd  the initrd ({@code -initrd}), or null for none
     * @param cmdline the command line ({@code -append}), or null for none
     */
    public static KernelHashes of(byte[] kernel, byte[] initrd, String cmdline) {
        return new KernelHashes(sha256(kernel), sha256(initrd == null ? new byte[0] : initrd), cmdlineHash(cmdline));
    }

    /** The hashes of the files (read as a stream: a kernel or initrd need not fit in memory twice). */
    public static KernelHashes read(Path kernel, Path initrd, String cmdline) throws IOException {
        return new KernelHashes(sha256(kernel), initrd == null ? sha256(new byte[0]) : sha256(initrd),
                cmdlineHash(cmdline));
    }

    public byte[] kernelSha256() {
        return kernel.clone();
    }

    public byte[] initrdSha256() {
        return initrd.clone();
    }

    public byte[] cmdlineSha256() {
        return cmdline.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KernelHashes k && Arrays.equals(kernel, k.kernel) && Arrays.equals(initrd, k.initrd)
                && Arrays.equals(cmdline, k.cmdline);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(kernel) * 31 * 31 + Arrays.hashCode(initrd) * 31 + Arrays.hashCode(cmdline);
    }

    @Override
    public String toString() {
        HexFormat hex = HexFormat.of();
        return "kernel sha256 " + hex.formatHex(kernel) + ", initrd sha256 " + hex.formatHex(initrd)
                + ", cmdline sha256 " + hex.formatHex(cmdline);
    }

    private static byte[] cmdlineHash(String cmdline) {
        byte[] text = cmdline == null ? new byte[0] : cmdline.getBytes(StandardCharsets.UTF_8);
        return sha256(Arrays.copyOf(text, text.length + 1));
    }

    private static byte[] sha256(byte[] bytes) {
        return newSha256().digest(bytes);
    }

    private static byte[] sha256(Path file) throws IOException {
        MessageDigest digest = newSha256();
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return digest.digest();
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
