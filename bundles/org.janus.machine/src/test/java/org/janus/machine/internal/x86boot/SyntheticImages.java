package org.janus.machine.internal.x86boot;

/** Synthetic boot images for tests outside this package. */
public final class SyntheticImages {
    private SyntheticImages() {}

    /** A well-formed relocatable 64-bit bzImage with a 64 KiB kernel and an 8 MiB init_size. */
    public static byte[] bzImage() { return new SyntheticBzImage().build(); }
}
