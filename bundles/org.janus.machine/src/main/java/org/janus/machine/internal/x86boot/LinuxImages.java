package org.janus.machine.internal.x86boot;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * The images of a direct Linux boot, read once and checked when the spec is validated, so that a bad kernel is a
 * problem of the spec (with its JSON path) before any VM exists, and the assembler writes what was checked.
 *
 * @param kernel the parsed bzImage
 * @param initrd the initrd's bytes, or null
 * @param cmdline the command line, checked against the kernel's cmdline_size
 */
public record LinuxImages(BzImage kernel, byte[] initrd, String cmdline) {
    /** Which member of the boot section a problem is about. */
    public enum Member { KERNEL, INITRD, CMDLINE }

    /** A problem with one member. */
    public static final class Problem extends Exception {
        private static final long serialVersionUID = 1L;
        private final Member member;

        Problem(Member member, String message) {
            super(message);
            this.member = member;
        }

        public Member member() { return member; }
    }

    /** Bytes of the initrd, not copied: they are only written to guest memory. */
    public byte[] initrdBytes() { return initrd; }

    @Override public byte[] initrd() { return initrd == null ? null : initrd.clone(); }

    @Override public boolean equals(Object o) {
        return o instanceof LinuxImages l && l.kernel.equals(kernel) && Arrays.equals(l.initrd, initrd) && l.cmdline.equals(cmdline);
    }

    @Override public int hashCode() { return kernel.hashCode() * 31 + cmdline.hashCode(); }

    /** Reads and checks each image once, within its limit. */
    public static LinuxImages read(Path kernel, long kernelLimit, Path initrd, long initrdLimit, String cmdline) throws Problem {
        BzImage k;
        try {
            k = BzImage.parse(BootFiles.read(kernel, kernelLimit, "kernel"), kernel.toString());
        } catch (BootImageException e) {
            throw new Problem(Member.KERNEL, e.getMessage());
        }
        byte[] i = null;
        if (initrd != null) {
            try {
                i = BootFiles.read(initrd, initrdLimit, "initrd");
            } catch (BootImageException e) {
                throw new Problem(Member.INITRD, e.getMessage());
            }
        }
        try {
            LinuxLoader.cmdline(k, cmdline);
        } catch (BootImageException e) {
            throw new Problem(Member.CMDLINE, e.getMessage());
        }
        return new LinuxImages(k, i, cmdline == null ? "" : cmdline);
    }
}
