package org.janus.machine;

/**
 * Building a VM failed at {@link #step()}; everything created before it was released again. The cause is the
 * KVM, memory or platform exception of that step.
 */
public class MachineException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The steps of building a VM, in order. */
    public enum Step {
        CHOOSE_KVM("choosing the KVM provider"),
        CREATE_VM("creating the VM (KVM_CREATE_VM)"),
        CHOOSE_BACKEND("choosing the memory backend"),
        INIT_VM("initialising the VM for its platform"),
        CREATE_RAM("creating guest RAM"),
        CREATE_VCPU("creating a vCPU (KVM_CREATE_VCPU)"),
        INIT_VCPU("initialising a vCPU for its platform"),
        CREATE_DEVICES("creating the interrupt controller, timer and devices of a Linux boot"),
        LOAD_KERNEL("loading the Linux kernel"),
        LOAD_GUEST("loading the guest program"),
        LAUNCH("launching (platform launch)"),
        START_VCPUS("starting the vCPU threads");

        private final String description;

        Step(String description) { this.description = description; }

        public String description() { return description; }
    }

    private final String vm;
    private final Step step;

    public MachineException(String vm, Step step, String message, Throwable cause) {
        super(vm + ": " + step.description() + " failed: " + message, cause);
        this.vm = vm;
        this.step = step;
    }

    /** The name of the VM being built. */
    public String vm() { return vm; }

    public Step step() { return step; }
}
