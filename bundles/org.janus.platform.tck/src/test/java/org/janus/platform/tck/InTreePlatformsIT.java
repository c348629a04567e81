package org.janus.platform.tck;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;

/** Janus's own platforms pass the kit, each in a framework of its own. */
class InTreePlatformsIT {

    @Nested
    class None extends PlatformContract {
        @Override protected PlatformUnderTest platform() {
            return PlatformUnderTest.builder(bundleOnClassPath("org.janus.platform.none"), "none")
                    .withoutConversions()
                    .guest("hello", "{}")
                    .longGuest("hello", "{ \"repeat\": 100000000 }")
                    .refuses("{ \"id\": \"none\", \"colour\": \"blue\" }", "$.platform.colour")
                    .build();
        }
    }

    @Nested
    class SwProtected extends PlatformContract {
        @Override protected PlatformUnderTest platform() {
            return PlatformUnderTest.builder(bundleOnClassPath("org.janus.platform.swprotected"), "sw-protected")
                    .refuses("{ \"id\": \"sw-protected\", \"initialState\": \"purple\" }", "$.platform.initialState")
                    .refuses("{ \"id\": \"sw-protected\", \"colour\": \"blue\" }", "$.platform.colour")
                    .unsupportedOn("arm64", "arm64-pkvm")
                    .build();
        }
    }

    @Nested
    class SevSnp extends PlatformContract {
        @Override protected PlatformUnderTest platform() {
            return PlatformUnderTest.builder(bundleOnClassPath("org.janus.platform.snp"), "sev-snp")
                    .hardware("amd-snp")
                    .platform("{ \"id\": \"sev-snp\", \"policy\": \"0x30000\" }")
                    .images("{ \"firmware\": \"" + ovmf() + "\" }")
                    .ram("[ { \"name\": \"ram-low\", \"gpa\": 0, \"size\": \"512M\" }, { \"name\": \"bios\", \"gpa\": \"0xffe00000\", \"size\": \"2M\" } ]")
                    .vcpus(2, "EPYC-v4")
                    .guest("linux-snp-boot", "{ \"accept\": \"8M\", \"chunk\": \"2M\", \"swiotlb\": \"1M\" }")
                    .longGuest("linux-snp-boot", "{ \"accept\": \"256M\", \"chunk\": \"4K\", \"swiotlb\": \"1M\" }")
                    .refuses("{ \"id\": \"sev-snp\", \"policy\": \"0x0\" }", "$.platform.policy")
                    .refuses("{ \"id\": \"sev-snp\", \"policy\": \"0x30000\", \"colour\": \"blue\" }", "$.platform.colour")
                    .unsupportedOn("x86", "intel-tdx", "arm64")
                    .build();
        }
    }

    @Nested
    class Tdx extends PlatformContract {
        @Override protected PlatformUnderTest platform() {
            return PlatformUnderTest.builder(bundleOnClassPath("org.janus.platform.tdx"), "tdx")
                    .hardware("intel-tdx")
                    .platform("{ \"id\": \"tdx\", \"attributes\": \"0x10000000\", \"gpaw\": 48 }")
                    .images("{ \"firmware\": \"" + tdvf() + "\" }")
                    .ram("[ { \"name\": \"ram-low\", \"gpa\": 0, \"size\": \"2G\" }, { \"name\": \"bios\", \"gpa\": \"0xffc00000\", \"size\": \"4M\" },"
                            + " { \"name\": \"ram-high\", \"gpa\": \"4G\", \"size\": \"256M\" } ]")
                    .vcpus(2, null)
                    .guest("conversion-storm", "{ \"iterations\": 16, \"sizes\": [ \"4K\", \"2M\" ], \"regions\": [ \"ram-high\" ] }")
                    .longGuest("conversion-storm", "{ \"iterations\": 1000000, \"sizes\": [ \"4K\", \"2M\" ], \"pagesPerRange\": 4, \"regions\": [ \"ram-high\" ] }")
                    .refuses("{ \"id\": \"tdx\", \"gpaw\": 47 }", "$.platform.gpaw")
                    .refuses("{ \"id\": \"tdx\", \"colour\": \"blue\" }", "$.platform.colour")
                    .unsupportedOn("x86", "amd-snp", "arm64")
                    .build();
        }
    }

    /** Debian's TDVF (ovmf-inteltdx), fetched by the TDX bundle's build into .cache/ovmf-inteltdx. */
    static String tdvf() {
        Path p = Path.of("../../.cache/ovmf-inteltdx/current/usr/share/ovmf/OVMF.inteltdx.ms.fd");
        if (Files.isRegularFile(p)) return p.toAbsolutePath().normalize().toString();
        String ci = System.getenv("CI");
        if (ci != null && !ci.isEmpty()) throw new IllegalStateException("Debian's TDVF is not in .cache/ovmf-inteltdx (tools/fetch-ovmf-inteltdx.sh)");
        Assumptions.assumeTrue(false, "Debian's TDVF is not in .cache/ovmf-inteltdx: the TDX contract is skipped");
        return null;
    }

    /** Debian's OVMF, installed or fetched by the runtime's build into .cache/ovmf; in CI it must be there. */
    static String ovmf() {
        for (Path p : new Path[] {Path.of("/usr/share/ovmf/OVMF.fd"), Path.of("../../.cache/ovmf/current/usr/share/qemu/OVMF.fd")}) {
            if (Files.isRegularFile(p)) return p.toAbsolutePath().normalize().toString();
        }
        String ci = System.getenv("CI");
        if (ci != null && !ci.isEmpty()) throw new IllegalStateException("Debian's OVMF is neither installed nor in .cache/ovmf");
        Assumptions.assumeTrue(false, "Debian's OVMF is neither installed nor in .cache/ovmf: the SEV-SNP contract is skipped");
        return null;
    }
}
