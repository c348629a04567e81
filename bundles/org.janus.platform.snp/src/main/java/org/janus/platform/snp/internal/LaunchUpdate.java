package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;

/** One SNP_LAUNCH_UPDATE of guest memory: a page-aligned range and the page type it is given. */
public sealed interface LaunchUpdate {
    long gpa();

    long length();

    SnpPageType type();

    /** NORMAL pages: the contents are loaded at {@code gpa} and measured. */
    record Measured(long gpa, ByteBuffer contents) implements LaunchUpdate {
        public Measured {
            contents = contents.asReadOnlyBuffer();
        }

        /** A view of its own each time, so that reading the contents does not move them for the next reader. */
        @Override
        public ByteBuffer contents() {
            return contents.duplicate();
        }

        @Override
        public long length() {
            return contents.remaining();
        }

        @Override
        public SnpPageType type() {
            return SnpPageType.NORMAL;
        }
    }

    /** Pages whose contents the firmware does not measure: ZERO, UNMEASURED, SECRETS or CPUID. */
    record Unhashed(long gpa, long length, SnpPageType type) implements LaunchUpdate {
        public Unhashed {
            if (type.contentsMeasured()) {
                throw new IllegalArgumentException(type + " pages carry measured contents");
            }
        }
    }
}
