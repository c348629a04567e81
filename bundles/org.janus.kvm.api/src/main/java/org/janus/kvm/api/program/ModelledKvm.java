package org.janus.kvm.api.program;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVm;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A KVM that models a kernel (a <em>profile</em>, e.g. {@code 7.3}) on modelled hardware (e.g. {@code amd-snp})
 * instead of running on one. Its VMs' vCPUs are {@link ProgrammableVcpu}s, it can make independent hosts of the
 * same model for other profiles and hardware, and it can tell what its modelled firmware computed, which real
 * firmware tells only the guest.
 */
@ProviderType
public interface ModelledKvm extends Kvm {

    /** The id of the kernel profile this host models. */
    String profileId();

    /** The id of the hardware this host models. */
    String hardwareId();

    /** Every profile id a host of this model can have. */
    List<String> profileIds();

    /** Every hardware id a host of this model can have. */
    List<String> hardwareIds();

    /**
     * An independent host of the same model: its own VMs, memory and firmware.
     *
     * @param profileId the profile, or null for this host's
     * @param hardwareId the hardware, or null for this host's
     * @throws IllegalArgumentException for an unknown id, naming the known ones
     */
    ModelledKvm host(String profileId, String hardwareId);

    /**
     * The launch digest the modelled firmware computed for the launch of {@code vm} (a VM of this host), once the
     * launch has finished; empty where there was no measured launch.
     */
    Optional<byte[]> launchDigest(KvmVm vm);

    /**
     * Makes the (afterCalls+1)-th call of {@code operation} from now on fail with {@code errno} and change nothing,
     * once: a modelled kernel can fail where a real one seldom does, so that tests can show what a failure leaves.
     * Operations are named as {@link org.janus.kvm.api.KvmException#operation()} names them (e.g. {@code KVM_CREATE_VCPU},
     * {@code fallocate}); a model documents the ones it knows.
     */
    void injectFault(String operation, int errno, int afterCalls);

    /** Removes every injected fault that has not fired yet. */
    void clearFaults();

    /**
     * How often each operation {@link #injectFault} can fail has been called on this host so far, by its name (see
     * {@link FaultPoints}): a test runs a path once, reads which calls it made, and fails each of them in turn.
     */
    Map<String, Long> faultPointCalls();
}
