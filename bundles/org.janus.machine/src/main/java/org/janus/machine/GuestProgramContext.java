package org.janus.machine;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.RamRegion;

/**
 * What a guest program may know about the VM it runs in.
 *
 * @param platform the platform id ({@code none}, {@code sw-protected}, {@code sev-snp}, ...)
 * @param options the spec's {@code guest.options}
 * @param ram the RAM regions, by GPA
 * @param vcpuId the vCPU this program runs on
 * @param vcpuCount how many vCPUs the VM has
 * @param access how the guest's memory accesses pick the private or shared face
 * @param contents what a page reads after a conversion: the memory strategy and the platform's hardware together
 *        (preserved in place on a software-protected or pKVM VM, zero after a legacy conversion there, lost on
 *        SEV-SNP and TDX either way)
 */
public record GuestProgramContext(String platform, Map<String, Object> options, List<RamRegion> ram, int vcpuId,
                                  int vcpuCount, AccessModel access, ConversionContents contents) {
    public GuestProgramContext {
        options = Map.copyOf(options);
        ram = List.copyOf(ram);
        Objects.requireNonNull(contents, "contents");
    }

    /**
     * A context whose conversions keep contents or zero them as the strategy alone says: for platforms whose hardware
     * keeps a page's bytes ({@link ConversionContents#of}).
     */
    public GuestProgramContext(String platform, Map<String, Object> options, List<RamRegion> ram, int vcpuId, int vcpuCount,
                               AccessModel access, boolean strategyKeepsPage) {
        this(platform, options, ram, vcpuId, vcpuCount, access, ConversionContents.of(strategyKeepsPage, true));
    }

    /** Whether a page reads what it held after a conversion ({@link ConversionContents#PRESERVED}). */
    public boolean preservesContents() { return contents == ConversionContents.PRESERVED; }

    /** Port for console bytes ({@link GuestPorts#CONSOLE}). */
    public int consolePort() { return GuestPorts.CONSOLE; }

    /** Port whose value written ends the VM with that exit code ({@link GuestPorts#EXIT}). */
    public int exitPort() { return GuestPorts.EXIT; }

    /** arm64: the MMIO address whose byte writes are console output ({@link GuestPorts#CONSOLE_MMIO}). */
    public long consoleMmio() { return GuestPorts.CONSOLE_MMIO; }

    /** How guest accesses choose between private and shared memory. */
    public enum AccessModel {
        /** A VM without private memory: every access is shared, nothing converts. */
        SHARED_ONLY,
        /**
         * KVM takes the kind from the page's attribute (the software-protected VM, a pKVM protected VM): plain reads and
         * writes reach whichever face the page has now; the guest converts with MAP_GPA_RANGE (x86) or pKVM's
         * MEM_SHARE and MEM_UNSHARE (arm64).
         */
        KVM_DERIVED,
        /**
         * The guest picks the kind per access (SEV-SNP C-bit, TDX shared bit): plain accesses are private, a
         * mismatch with the attribute is a memory fault the host converts (an implicit conversion).
         */
        GUEST_CHOSEN
    }
}
