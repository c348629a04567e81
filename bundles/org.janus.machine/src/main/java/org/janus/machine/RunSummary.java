package org.janus.machine;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.janus.memory.api.MemoryFigures;

/**
 * What happened to a VM, collected when it ended (before its memory was released).
 *
 * @param id the VM's id
 * @param name the spec's name
 * @param kvm which KVM ran it, and why that one
 * @param platform the platform id
 * @param backend the memory backend, and why
 * @param end how it ended ({@link VmState.Stopped} or {@link VmState.Failed})
 * @param endedNormally whether the guest ended on its own and well: every vCPU halted, a shutdown, or exit code 0
 * @param guestExitCode what the guest wrote to {@link GuestPorts#EXIT}, if it did
 * @param ran from start to end
 * @param launch the platform's launch summary
 * @param launchMeasurement the measurement the platform's launch reported, in hex; empty for platforms that measure
 *        nothing
 * @param launchDigest the launch digest the firmware computed, in hex; empty for platforms that measure nothing, and
 *        where the KVM cannot tell it (real SEV firmware gives it only to the guest, in its attestation report)
 * @param expectedDigest the launch digest computed ahead from the spec alone (what {@code janus measure} prints), in
 *        hex; empty for platforms that measure nothing
 * @param vcpus what each vCPU did
 * @param conversions conversions by source and direction
 * @param memory each RAM region's figures at the end
 * @param console what the guest wrote to {@link GuestPorts#CONSOLE}
 * @param ending the verdict: ok, failed, or (a Linux guest) a reboot or a panic
 */
public record RunSummary(String id, String name, String kvm, String platform, String backend, VmState end,
                         boolean endedNormally, OptionalInt guestExitCode, Duration ran, String launch,
                         String launchMeasurement, String launchDigest, String expectedDigest, List<VcpuSummary> vcpus, List<ConversionCount> conversions,
                         List<RegionFigures> memory, String console, Ending ending) {
    /**
     * The verdict of a run, each with its word in the summary's last line ({@code result: ok}, ...) and its exit
     * status of {@code janus run}.
     */
    public enum Ending {
        /** The guest ended normally: every vCPU halted, a shutdown, or exit code 0 (a Linux guest's power-off). */
        OK("ok", 0),
        /** It did not, or the VM failed. */
        FAILED("failed", 1),
        /** A Linux guest rebooted (i8042 reset or triple fault); Janus does not reset VMs, so the run ends. */
        REBOOT("reboot", 3),
        /** A Linux guest panicked: it reset right after printing "Kernel panic - not syncing". */
        PANIC("panic", 4);

        private final String word;
        private final int exitStatus;

        Ending(String word, int exitStatus) {
            this.word = word;
            this.exitStatus = exitStatus;
        }

        /** The word after {@code result: } in the summary's last line. */
        public String word() { return word; }

        /** The exit status of {@code janus run}. */
        public int exitStatus() { return exitStatus; }
    }

    public RunSummary {
        vcpus = List.copyOf(vcpus);
        conversions = List.copyOf(conversions);
        memory = List.copyOf(memory);
    }

    /**
     * Whether the firmware's launch digest is the one computed ahead: empty when either is unknown, so that there is
     * nothing to compare.
     */
    public Optional<Boolean> digestMatches() {
        if (launchDigest.isEmpty() || expectedDigest.isEmpty()) return Optional.empty();
        return Optional.of(launchDigest.equalsIgnoreCase(expectedDigest));
    }

    /**
     * One vCPU.
     *
     * @param id the vCPU id
     * @param ending how its thread ended, e.g. {@code halted} or {@code stopped}
     * @param exits KVM exits counted by kind ({@code io-out}, {@code hypercall}, {@code memory-fault}, ...)
     */
    public record VcpuSummary(int id, String ending, Map<String, Long> exits) {
        public VcpuSummary {
            exits = Map.copyOf(exits);
        }

        public long totalExits() { return exits.values().stream().mapToLong(Long::longValue).sum(); }
    }

    /**
     * Conversions from one source in one direction.
     *
     * @param source {@code memory-fault}, {@code map-gpa-range} or {@code platform}
     * @param direction {@code to-private} or {@code to-shared}
     * @param requests requests received
     * @param done requests carried out
     * @param refused requests refused (the guest was told EINVAL or EAGAIN)
     * @param bytes bytes of RAM the requests carried out covered (pages already in the target state included; MMIO
     *        and holes skipped on the way to shared not)
     */
    public record ConversionCount(String source, String direction, long requests, long done, long refused, long bytes) {}

    /** One RAM region: where, by which backend, and what it cost at the end. */
    public record RegionFigures(String name, long gpa, String backend, MemoryFigures figures) {}
}
