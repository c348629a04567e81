package org.janus.platform.tdx.internal;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Debian's TDVF (ovmf-inteltdx 2026.08+ds-2, OVMF.inteltdx.ms.fd), as tools/fetch-ovmf-inteltdx.sh extracts it into
 * .cache/ovmf-inteltdx/current (this module's build runs it), or as the package installs it. Without it the tests
 * that need it are skipped with the reason, except in CI (CI set, or -Djanus.tdvf.required=true), where they fail.
 */
final class RealTdvf {
    static final String IMAGE = "usr/share/ovmf/OVMF.inteltdx.ms.fd";
    static final String FETCH = "tools/fetch-ovmf-inteltdx.sh";
    /** SHA-256 of the image in ovmf-inteltdx 2026.08+ds-2, whose figures the tests hold. */
    static final String SHA256 = "a265075b4147a096109e501e76196df1ec8a18659c26f7401492c597ec88f312";
    /**
     * Its MRTD for Janus's (and QEMU's) launch, computed independently of this bundle from the TDX module ABI's
     * records over the TDVF metadata (a separate script: MEM.PAGE.ADD per page of every section, MR.EXTEND per
     * 256-byte chunk of the MR_EXTEND section).
     */
    static final String MRTD = "a7a1f751abc454f9cbab198ca8d2edb2821935df525c74182b5e776cb0929e8c59aefecce725b0d08a5e9d3d3183bd08";

    private RealTdvf() {}

    /** The image, or a skip (a failure in CI) saying how to get it. */
    static Path require() {
        Path found = find();
        if (found != null) return found;
        String reason = "Debian's TDVF (" + IMAGE + ") is neither in .cache/ovmf-inteltdx/current nor installed; run "
                + FETCH + " at the repository root (the build of org.janus.platform.tdx does)";
        if (System.getenv("CI") != null || Boolean.getBoolean("janus.tdvf.required")) fail(reason + " (required in CI)");
        assumeTrue(false, reason);
        return null;
    }

    static Path find() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path image = dir.resolve(".cache/ovmf-inteltdx/current").resolve(IMAGE);
            if (Files.isRegularFile(image)) return image;
            if (Files.isRegularFile(dir.resolve(FETCH))) break;
        }
        Path installed = Path.of("/").resolve(IMAGE);
        return Files.isRegularFile(installed) ? installed : null;
    }
}
