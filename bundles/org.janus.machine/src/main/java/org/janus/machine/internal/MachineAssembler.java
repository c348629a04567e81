package org.janus.machine.internal;

import java.util.List;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.VmType;
import org.janus.kvm.api.program.ModelledKvm;
import org.janus.kvm.api.program.ProgrammableVcpu;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.MachineException;
import org.janus.machine.MachineException.Step;
import org.janus.machine.MachineSpec;
import org.janus.machine.internal.x86boot.E820;
import org.janus.machine.internal.x86boot.GuestCpuid;
import org.janus.machine.internal.x86boot.LinuxImages;
import org.janus.machine.internal.x86boot.LinuxLoader;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.MemoryBackend;
import org.janus.memory.api.RamRegion;

/**
 * The default build recipe of a VM, read top-down: take the KVM, create the VM, take the memory backend, let the
 * platform initialise the VM, add RAM, add vCPUs, load the guest programs, launch (with the measurement the launch
 * should produce computed ahead, and the one the firmware computed taken after, where the KVM tells it). The spec has been validated
 * into a {@link SpecValidator.Plan}; the vCPU threads are started (parked) by the {@link VmInstance} after this.
 * When a step fails, everything made so far is released in reverse and a {@link MachineException} names the step.
 */
final class MachineAssembler {
    private final ServiceDirectory services;

    MachineAssembler(ServiceDirectory services) { this.services = services; }

    Assembly assemble(SpecValidator.Plan plan) {
        Assembly a = new Assembly(plan);
        Step step = Step.CHOOSE_KVM;
        try {
            chooseKvmAndPlatform(a);
            step = Step.CREATE_VM;
            createVm(a);
            step = Step.CHOOSE_BACKEND;
            chooseBackend(a);
            step = Step.INIT_VM;
            a.platform.initVm(a.context);
            step = Step.CREATE_RAM;
            addRam(a);
            if (a.plan.linux() != null) {
                step = Step.CREATE_DEVICES;
                createInKernelDevices(a);
            }
            step = Step.CREATE_VCPU;
            for (int id = 0; id < plan.spec().vcpus().count(); id++) {
                step = Step.CREATE_VCPU;
                KvmVcpu vcpu = addVcpu(a, id);
                step = Step.INIT_VCPU;
                a.platform.initVcpu(a.context, vcpu);
            }
            step = Step.LOAD_GUEST;
            loadGuestPrograms(a);
            if (a.plan.linux() != null) {
                step = Step.LOAD_KERNEL;
                loadKernel(a);
            }
            step = Step.LAUNCH;
            a.expectedDigest = a.platform.expectedMeasurement(a.plan.platformSpec()).orElse(new byte[0]);
            a.launch = a.platform.launch(a.context);
            a.firmwareDigest = firmwareDigest(a);
            return a;
        } catch (RuntimeException | Error e) {
            List<String> leftovers = a.release();
            MachineException failure = new MachineException(a.name, step, String.valueOf(e.getMessage()), e);
            leftovers.forEach(l -> failure.addSuppressed(new IllegalStateException("not released: " + l)));
            throw failure;
        }
    }

    /** Validation chose both; a service that went away since is a failure here, not a silent substitute. */
    private void chooseKvmAndPlatform(Assembly a) {
        a.kvm = a.plan.kvm().kvm();
        a.platform = a.plan.platform();
        if (services.platform(a.plan.spec().platform().id()).orElse(null) != a.platform)
            throw new IllegalStateException("platform " + a.plan.spec().platform().id() + " changed while the VM was being built");
    }

    private void createVm(Assembly a) {
        long type = a.platform.vmType(a.kvm, a.plan.platformSpec());
        a.vm = a.own("VM fd (" + VmType.name(type) + ")", a.kvm.createVm(type));
        a.context = new MachineContext(a.name, a.platform.id(), a.kvm, a.vm, a.plan.platformSpec(), a.plan.backend(),
                a.platform.keepsPlaintextAcrossConversion());
        // Released before the VM fd: e.g. the /dev/sev a platform holds from initVm until its launch has finished.
        a.own("platform state", a.context::closePlatformState);
    }

    /** The backend validation chose, asked again about the VM itself. */
    private void chooseBackend(Assembly a) {
        MemoryBackend backend = services.backend(a.plan.backend())
                .orElseThrow(() -> new IllegalStateException("memory backend " + a.plan.backend() + " is no longer registered"));
        MemoryBackend.Suitability s = backend.suitability(a.vm);
        if (!s.usable()) throw new IllegalStateException("the " + backend.id() + " backend cannot serve this VM: " + s.reason());
        a.backend = backend;
    }

    /** One memslot per RAM region, in spec order (slot = index); then the memory map and the conversion engine. */
    private void addRam(Assembly a) {
        List<MachineSpec.Region> ram = a.plan.spec().memory().ram();
        for (int slot = 0; slot < ram.size(); slot++) {
            MachineSpec.Region r = ram.get(slot);
            RamRegion region = new RamRegion(r.name(), slot, r.gpa(), r.size(), a.plan.spec().memory().hugePages());
            a.rams.add(a.backend.create(a.kvm, a.vm, region, a.plan.initialState()));
            // Whichever RAM serves the slot at the end is released: a backend swap replaces the object.
            int index = slot;
            a.own("RAM " + r.name(), () -> a.rams.get(index).close());
        }
        for (MachineSpec.Region h : a.plan.spec().memory().mmio()) a.holes.add(new MmioHole(h.name(), h.gpa(), h.size()));
        a.map = new GuestMemoryMap(a.rams, a.holes);
        a.conversions = new VmConversions(new ConversionEngine(a.map));
        a.context.memory(a.map, a.conversions);
    }

    private KvmVcpu addVcpu(Assembly a, int id) {
        KvmVcpu vcpu = a.own("vCPU " + id, a.vm.createVcpu(id));
        a.vcpus.add(vcpu);
        a.context.addVcpu(vcpu);
        return vcpu;
    }

    /**
     * The digest the firmware computed for the launch, where the KVM can tell it: a modelled KVM's firmware can.
     * Real firmware gives it only to the guest (in its attestation report), so on the real kernel it is empty and
     * only the expected digest is known.
     */
    private static byte[] firmwareDigest(Assembly a) {
        if (a.launch.measurement().length == 0 || !(a.kvm instanceof ModelledKvm model)) return new byte[0];
        return model.launchDigest(a.vm).orElse(new byte[0]);
    }

    /**
     * What Linux expects of a PC before its first vCPU exists: the in-kernel PIC pair, IOAPIC and local APICs, the
     * PIT (with its speaker port, which Linux's TSC calibration gates channel 2 through), and on Intel the pages
     * KVM needs outside RAM for real mode. Their addresses are QEMU's, in the hole below 4 GiB the validator keeps
     * free of RAM.
     */
    private static void createInKernelDevices(Assembly a) {
        a.vm.setIdentityMapAddr(LinuxBootDevices.IDENTITY_MAP_ADDR);
        a.vm.setTssAddr(LinuxBootDevices.TSS_ADDR);
        a.vm.createIrqchip();
        a.vm.createPit2(0);
        a.devices = a.own("devices", new LinuxDevices(a.vm, a.plan.spec().boot().console(), a.console, System.out,
                System.getLogger(LinuxDevices.class.getName())));
    }

    /**
     * A direct Linux boot: the kernel, initrd and command line written through the backend's host mapping, the
     * boot vCPU given KVM's supported CPUID and put at the 64-bit entry point.
     */
    private static void loadKernel(Assembly a) {
        LinuxImages images = a.plan.linux();
        List<E820.Range> ram = a.plan.spec().memory().ram().stream().map(r -> new E820.Range(r.gpa(), r.end())).toList();
        List<E820.Range> mmio = a.plan.spec().memory().mmio().stream().map(r -> new E820.Range(r.gpa(), r.end())).toList();
        LinuxLoader.Layout layout = LinuxLoader.load(images.kernel(), images.initrdBytes(), images.cmdline(), ram, mmio,
                a.context::writeGuest);
        KvmVcpu boot = a.vcpus.get(0);
        GuestCpuid.set(a.kvm, boot, a.vcpus.size());
        layout.enter(boot);
        a.context.log("Linux boot: " + images.kernel() + "; " + layout.describe());
        a.devices.startInput(System.in);
    }

    private void loadGuestPrograms(Assembly a) {
        if (a.plan.guest() == null) return;
        ConversionContents contents = a.context.conversionContents();
        for (KvmVcpu vcpu : a.vcpus) {
            if (!(vcpu instanceof ProgrammableVcpu sim))
                throw new IllegalStateException("vCPU " + vcpu.id() + " runs machine code, not guest programs; guest programs need the software KVM");
            GuestProgramContext context = SpecValidator.guestContext(a.plan.spec(), vcpu.id(), a.plan.access(), contents);
            sim.load(a.plan.guest().create(context));
        }
    }
}
