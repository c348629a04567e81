package org.janus.machine;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Creates and runs VMs. A VM is created complete (memory, vCPUs, launched) with its vCPUs parked, runs after
 * {@link #start}, and ends by itself (the guest halts, shuts down, writes the exit port, or fails) or by
 * {@link #stop}; at its end everything it held (vCPU threads, fds, mappings, memory) is released and a
 * {@link RunSummary} kept. Every method that names a VM throws {@link IllegalArgumentException} for an unknown id,
 * and those that change its state throw {@link IllegalStateException} when the state does not allow it.
 */
@ProviderType
public interface VmManager {

    /**
     * Checks the spec against this host and the registered services, then builds the VM: KVM VM, platform
     * initialisation, RAM, vCPUs, guest programs, launch. Its vCPUs are parked: {@link VmState.Created}.
     *
     * @return the new VM's id
     * @throws SpecException naming every problem, before anything is created
     * @throws MachineException naming the step that failed; whatever was created is released again
     */
    String create(MachineSpec spec) throws SpecException;

    /** Lets the vCPUs of a {@link VmState.Created} VM run. */
    void start(String id);

    /** Parks every vCPU between two runs, and returns once they are parked. */
    void pause(String id);

    /** Lets a paused VM's vCPUs run again. */
    void resume(String id);

    /** Ends the VM, releases everything it holds, and returns its summary. Stopping an ended VM is a no-op. */
    RunSummary stop(String id);

    /** Every VM this manager knows, ended ones included, by id. */
    List<VmInfo> list();

    VmState state(String id);

    /**
     * Waits until the VM has ended and released everything.
     *
     * @throws TimeoutException when it is still running after {@code timeout}
     */
    RunSummary awaitEnd(String id, Duration timeout) throws TimeoutException, InterruptedException;

    /**
     * The VM as it is now.
     */
    VmStatus status(String id);

    /** The private and shared runs of each of the VM's RAM regions; empty once it has ended. */
    List<RegionMap> memoryMap(String id);

    /** Every platform and memory backend registered now, preferred first per id, with the VMs bound to each. */
    List<ServiceInfo> services();

    /**
     * Rebinds a running, paused or created VM to the preferred service now registered for {@code serviceId} (its
     * own platform's or backend's id when null): its vCPUs park at their next exit boundary, the new service takes
     * over the VM's state, and they resume (a VM that was paused stays paused). A conversion in flight completes on
     * the old service first. Returns at once, changing nothing, when the VM already has the preferred one.
     *
     * @throws IllegalArgumentException for an unknown VM, or when no service of that kind is registered under
     *         {@code serviceId}
     * @throws IllegalStateException when the VM has ended, or the service cannot take the VM over (another id, or
     *         it refuses the VM's spec or host); nothing was changed, the VM runs on as before
     */
    SwapResult swap(String id, ServiceKind kind, String serviceId);

    void addListener(VmListener listener);

    void removeListener(VmListener listener);

    /** One entry of {@link #list()}. */
    record VmInfo(String id, String name, String platform, VmState state) {}
}
