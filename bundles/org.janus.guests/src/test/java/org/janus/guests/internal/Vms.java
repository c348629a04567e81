package org.janus.guests.internal;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.janus.machine.GuestProgramFactory;
import org.janus.machine.RunSummary;
import org.janus.machine.internal.ServiceDirectory;
import org.janus.machine.internal.SpecReader;
import org.janus.machine.internal.VmManagerImpl;
import org.janus.memory.gmem.internal.GuestMemfdBackend;
import org.janus.memory.legacy.internal.LegacyBackend;
import org.janus.platform.none.internal.NonePlatform;
import org.janus.platform.snp.internal.SevSnpPlatform;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;

/**
 * Whole VMs for the guest programs' tests: the machine's manager outside a framework with the real platforms, both
 * memory backends and every guest program, and specs for each platform on a chosen kernel profile of the software
 * KVM. SEV-SNP VMs boot Debian's OVMF ({@value #OVMF}); without it their tests are skipped, except in CI, where
 * they fail.
 */
final class Vms {
    static final Duration WAIT = Duration.ofSeconds(120);
    static final String OVMF = "/usr/share/ovmf/OVMF.fd";
    static final String IOAPIC = "{ \"name\": \"ioapic\", \"gpa\": \"0xfec00000\", \"size\": \"4K\" }";
    /** RAM of the none and sw-protected VMs: 64 MiB low, and 2 GiB at 1 GiB (1G conversions for two vCPUs). */
    static final String RAM = "{ \"name\": \"ram-low\", \"gpa\": 0, \"size\": \"64M\" }, { \"name\": \"ram-high\", \"gpa\": \"1G\", \"size\": \"2G\" }";
    /**
     * RAM of the SEV-SNP VMs: 64 MiB low (with OVMF's SEV metadata at 8 MiB), the 2 MiB under OVMF.fd, which ends
     * at 4 GiB, and 2 GiB above 4 GiB.
     */
    static final String SNP_RAM = "{ \"name\": \"ram-low\", \"gpa\": 0, \"size\": \"64M\" }, { \"name\": \"bios\", \"gpa\": \"0xffe00000\", \"size\": \"2M\" },"
            + " { \"name\": \"ram-high\", \"gpa\": \"4G\", \"size\": \"2G\" }";

    /** The kernel profiles of the software KVM and the backend auto chooses there for a VM with private memory. */
    static final Map<String, String> BACKEND_BY_PROFILE = Map.of("inplace", "guest-memfd", "7.3", "legacy", "6.12", "legacy",
            "inplace-off", "legacy");
    static final List<String> PROFILES = List.of("inplace", "7.3", "6.12", "inplace-off");

    private Vms() {}

    static VmManagerImpl manager(Map<String, GuestProgramFactory> extraGuests) {
        ServiceDirectory s = new ServiceDirectory()
                .addKvm(org.janus.kvm.sim.SimKvm.create(org.janus.kvm.sim.SimProfile.INPLACE, org.janus.kvm.sim.SimHardware.AMD_SNP))
                .addPlatform(new NonePlatform()).addPlatform(new SwProtectedPlatform()).addPlatform(new SevSnpPlatform())
                .addBackend(new GuestMemfdBackend()).addBackend(new LegacyBackend(true))
                .addGuest(HelloFactory.NAME, new HelloFactory())
                .addGuest(ConversionStormFactory.NAME, new ConversionStormFactory())
                .addGuest(LinuxSnpBootFactory.NAME, new LinuxSnpBootFactory())
                .addGuest(FramebufferFactory.NAME, new FramebufferFactory())
                .addGuest(ScriptFactory.NAME, new ScriptFactory());
        extraGuests.forEach(s::addGuest);
        return new VmManagerImpl(s);
    }

    static VmManagerImpl manager() { return manager(Map.of()); }

    /** A spec of {@code platform} on {@code profile}, the guest's options a JSON object body. */
    static String spec(String platform, String profile, int vcpus, String program, String options) {
        boolean snp = platform.equals("sev-snp");
        if (snp) requireOvmf();
        return """
                { "name": "%s-%s-%s",
                  "kvm": { "provider": "sim", "profile": "%s", "hardware": "%s" },
                  "platform": { "id": "%s" },
                  "memory": { "ram": [ %s ], "mmio": [ %s ] },
                  "vcpus": { "count": %d%s }%s,
                  "guest": { "program": "%s", "options": { %s } } }
                """.formatted(program, platform, profile, profile, snp ? "amd-snp" : "x86", platform, snp ? SNP_RAM : RAM, IOAPIC,
                vcpus, snp ? ", \"model\": \"EPYC-v4\"" : "", snp ? ",\n  \"images\": { \"firmware\": \"" + OVMF + "\" }" : "",
                program, options);
    }

    /** Skips the test without Debian's OVMF, except in CI (where .ci/run installs it), where it fails. */
    static void requireOvmf() {
        if (Files.isReadable(Path.of(OVMF))) return;
        String reason = OVMF + " is not installed; Debian's ovmf package provides it (apt-get install -y ovmf)";
        if (System.getenv("CI") != null || Boolean.getBoolean("janus.ovmf.required")) fail(reason + " (required in CI)");
        assumeTrue(false, reason);
    }

    static RunSummary run(VmManagerImpl m, String spec) throws Exception {
        String id = m.create(SpecReader.read(spec, null));
        m.start(id);
        return m.awaitEnd(id, WAIT);
    }

    /** Conversions done, by "source/direction", e.g. {@code map-gpa-range/to-private}. */
    static Map<String, Long> done(RunSummary s) {
        return s.conversions().stream().collect(Collectors.toMap(c -> c.source() + "/" + c.direction(), RunSummary.ConversionCount::done));
    }

    static long refused(RunSummary s) { return s.conversions().stream().mapToLong(RunSummary.ConversionCount::refused).sum(); }
}
