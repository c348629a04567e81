package org.janus.hostreport;

/**
 * The memory strategy a confidential platform would get on the probed host, and why.
 *
 * @param platform the platform id ({@code sev-snp}, {@code tdx}, {@code pkvm}, {@code sw-protected}, {@code none})
 * @param vmType the KVM_CREATE_VM type the platform uses
 * @param strategy the strategy, {@link MemoryStrategy#UNAVAILABLE} when the platform cannot run here
 * @param reason the capability values that decided it, e.g. {@code KVM_CAP_VM_TYPES=0x13 lacks type 5}
 */
public record PlatformStrategy(String platform, long vmType, MemoryStrategy strategy, String reason) {

    public boolean available() {
        return strategy != MemoryStrategy.UNAVAILABLE;
    }
}
