package org.janus.platform.api;

import java.util.List;
import java.util.Optional;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.VcpuExit;
import org.janus.memory.api.PageState;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A confidential computing platform, registered as a service with {@link #PROPERTY} = {@link #id()}. The machine
 * calls it at fixed points of a VM's life, in this order: {@link #support}, {@link #validate}, {@link #initVm},
 * {@link #initVcpu} for each vCPU, {@link #launch}, then {@link #onExit} for exits the machine does not handle
 * itself. Every call gets the VM's {@link VmContext}; the platform keeps nothing between calls.
 */
@ConsumerType
public interface ConfidentialPlatform {
    /** Service property naming the platform. */
    String PROPERTY = "janus.platform";
    String SEV_SNP = "sev-snp";
    String TDX = "tdx";
    String PKVM = "pkvm";
    String SW_PROTECTED = "sw-protected";
    String NONE = "none";

    /** One of the ids above, or a vendor's own. */
    String id();

    /** The KVM_CREATE_VM machine type of its VMs on {@code kvm}. */
    long vmType(Kvm kvm);

    /**
     * The KVM_CREATE_VM machine type of a VM of {@code spec} on {@code kvm}, for platforms whose type depends on the
     * VM (pKVM puts the IPA size its memory map needs into it). The machine calls this one; by default it is
     * {@link #vmType(Kvm)}.
     */
    default long vmType(Kvm kvm, PlatformSpec spec) { return vmType(kvm); }

    /** Whether the host behind {@code kvm} can run this platform's VMs, and if not, what it lacks. */
    Support support(Kvm kvm);

    /** The state RAM starts in (private for platforms whose guests expect to own their memory at boot). */
    PageState initialRamState();

    /**
     * The state RAM of a VM with these options starts in, for platforms that let a spec choose it (e.g. the
     * software-protected VM's {@code initialState}). The machine calls this one; by default it is
     * {@link #initialRamState()}.
     */
    default PageState initialRamState(PlatformSpec spec) { return initialRamState(); }

    /**
     * Checks the platform part of a machine spec before anything is created.
     *
     * @return every problem found, each with its JSON path (e.g. {@code $.platform.policy}); empty if none
     */
    List<Problem> validate(PlatformSpec spec);

    /**
     * Checks the platform part of a machine spec against the host that would run it, once {@link #support} has accepted
     * that host (e.g. the memory map against the largest guest physical address size the host allows). The machine calls
     * this one where it knows the host; by default it is {@link #validate(PlatformSpec)}.
     *
     * @return every problem found, each with its JSON path; empty if none
     */
    default List<Problem> validate(PlatformSpec spec, Kvm kvm) { return validate(spec); }

    /** After KVM_CREATE_VM, before memory and vCPUs: e.g. KVM_SEV_INIT2, enabling hypercall exits. */
    void initVm(VmContext context);

    /** After KVM_CREATE_VCPU: the vCPU's reset state (registers, CPUID) as this platform's guests expect it. */
    void initVcpu(VmContext context, KvmVcpu vcpu);

    /**
     * Loads the images into guest memory and completes the launch (measure, finish), after all vCPUs exist.
     *
     * @return what the launch produced (e.g. the launch digest)
     */
    LaunchResult launch(VmContext context);

    /**
     * An exit the machine does not handle itself (conversions, port I/O and halts are the machine's): e.g. an SEV
     * termination request arriving as a system event.
     */
    ExitAction onExit(VmContext context, KvmVcpu vcpu, VcpuExit exit);

    /** The launch measurement a spec will produce, computed without running it, where the platform has one. */
    Optional<byte[]> expectedMeasurement(PlatformSpec spec);

    /**
     * Whether this platform's hardware leaves a page's bytes as they are when the page changes owner between guest and
     * host, so that a conversion in place keeps them. True by default, as for the software-protected VM and pKVM's
     * protected VMs, whose private memory is plain memory the host cannot map. SEV-SNP and TDX answer false: private
     * memory is encrypted with the guest's key, so a page converted in place shows the host ciphertext or zeros, and the
     * guest garbage or zeros, never the other side's plaintext. The machine combines it with the memory strategy into
     * {@link VmContext#conversionContents()}.
     */
    default boolean keepsPlaintextAcrossConversion() { return true; }

    /** The verdict of {@link #support}. */
    record Support(boolean supported, String reason) {
        public static Support yes(String reason) { return new Support(true, reason); }

        public static Support no(String reason) { return new Support(false, reason); }
    }

    /** One problem in a spec, at a JSON path. */
    record Problem(String path, String message) {
        @Override public String toString() { return path + ": " + message; }
    }

    /** What the machine does after {@link #onExit}. */
    enum ExitAction {
        /** The platform dealt with it; run the vCPU again. */
        RESUME,
        /** The guest asked to stop (e.g. SEV termination); stop the VM as the guest's own end. */
        GUEST_TERMINATED,
        /** The platform does not know this exit; the machine treats it as an error and stops the VM. */
        UNHANDLED
    }
}
