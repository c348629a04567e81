package org.janus.platform.snp.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.DeviceAttr;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.janus.platform.snp.measure.FirmwareImageException;
import org.janus.platform.snp.measure.LaunchDigest;
import org.janus.platform.snp.measure.KernelHashes;
import org.osgi.service.component.annotations.Component;

/**
 * AMD SEV-SNP (KVM_X86_SNP_VM): KVM_SEV_INIT2 with the VMSA features the host offers, hypercall exits for page-state
 * changes, SNP_LAUNCH_START with the spec's policy, vCPUs in the reset state of a QEMU-launched SNP guest, and a
 * launch of OVMF as QEMU does it ({@link SnpLaunch}). The launch digest is computed ahead from the same plan
 * ({@link SnpLaunchPlan}), so it equals what sev-snp-measure computes for a QEMU launch of the same image.
 *
 * <p>A spec with a kernel boots measured: the kernel's, initrd's and command line's hashes fill OVMF's
 * SNP_KERNEL_HASHES page, which the launch measures; the firmware must have one (Debian's OVMF.fd does not; the
 * AmdSev build, Debian's OVMF.amdsev.fd of ovmf-amdsev, does).
 *
 * <p>What the spec must provide: an OVMF image with SEV metadata, and RAM under both the image (it ends at 4 GiB)
 * and the metadata sections (for Debian 12's OVMF.fd: [0x800000, 0x820000) and [0xffe00000, 4 GiB); for the 4 MiB
 * OVMF.amdsev.fd: [0x800000, 0x830000) and [0xffc00000, 4 GiB)).
 *
 * <p>Per-VM state lives in {@link VmContext#platformState()}: the open /dev/sev (from initVm until the launch has
 * finished), the CPUID given to the vCPUs, and the application processors' reset address.
 */
@Component(service = ConfidentialPlatform.class, property = ConfidentialPlatform.PROPERTY + "=" + ConfidentialPlatform.SEV_SNP)
public final class SevSnpPlatform implements ConfidentialPlatform {
    /** platformState key: the open /dev/sev, an {@link SevDevice}; closed and removed when the launch ends. */
    static final String STATE_SEV_DEVICE = "sev-snp.sevDevice";
    /** platformState key: the CPUID entries set on every vCPU (a List of CpuidEntry). */
    static final String STATE_CPUID = "sev-snp.cpuid";
    /** platformState key: where application processors start (Long), from OVMF's SEV-ES reset block. */
    static final String STATE_AP_RESET_EIP = "sev-snp.apResetEip";

    private static final int SNP_VM_TYPE_BIT = 1 << (int) VmType.X86_SNP;

    @Override public String id() { return SEV_SNP; }

    @Override public long vmType(Kvm kvm) { return VmType.X86_SNP; }

    @Override public Support support(Kvm kvm) {
        int types = kvm.checkExtension(KvmCap.VM_TYPES);
        if ((types & SNP_VM_TYPE_BIT) == 0) return Support.no(String.format("KVM_CAP_VM_TYPES is 0x%x, without"
                + " KVM_X86_SNP_VM (bit 4): this host cannot run SEV-SNP guests (it needs an AMD EPYC with SNP"
                + " enabled in firmware and kvm_amd loaded with sev_snp=1)", types));
        boolean init2;
        try {
            init2 = kvm.hasDeviceAttr(DeviceAttr.of(DeviceAttr.X86_GRP_SEV, DeviceAttr.X86_SEV_VMSA_FEATURES));
        } catch (KvmException e) {
            init2 = false;
        }
        if (!init2) return Support.no("KVM has no KVM_X86_SEV_VMSA_FEATURES attribute (KVM_GET_DEVICE_ATTR on /dev/kvm,"
                + " group KVM_X86_GRP_SEV), so it lacks KVM_SEV_INIT2, which SEV-SNP VMs need (Linux 6.10 or later)");
        long features = kvm.getDeviceAttr(DeviceAttr.of(DeviceAttr.X86_GRP_SEV, DeviceAttr.X86_SEV_VMSA_FEATURES));
        return Support.yes(String.format("KVM_CAP_VM_TYPES 0x%x has KVM_X86_SNP_VM; KVM_SEV_INIT2 offers VMSA features 0x%x",
                types, features));
    }

    @Override public PageState initialRamState() { return PageState.PRIVATE; }

    /**
     * No: private memory is encrypted with the guest's key and the RMP ties each page to its owner, so a page the host
     * converts to shared shows it the ciphertext, and a page that turns private shows the guest garbage until it writes
     * it (AMD64 APM vol. 2, 15.36), in place as in legacy memory.
     */
    @Override public boolean keepsPlaintextAcrossConversion() { return false; }

    /**
     * Checks the options, the vCPU model and the firmware image (which must carry SEV metadata: Debian's
     * OVMF_CODE_4M.fd, for one, does not). That RAM covers the image and the SEV metadata sections cannot be seen
     * from here; the launch says so when it does not.
     */
    @Override public List<Problem> validate(PlatformSpec spec) {
        return SnpOptions.read(spec, true).problems();
    }

    @Override public void initVm(VmContext context) {
        SnpOptions options = options(context.spec());
        OvmfImage firmware = firmware(options);
        Kvm kvm = context.kvm();
        KvmVm vm = context.vm();
        long offered;
        try {
            offered = kvm.getDeviceAttr(DeviceAttr.of(DeviceAttr.X86_GRP_SEV, DeviceAttr.X86_SEV_VMSA_FEATURES));
        } catch (KvmException e) {
            throw new PlatformException(SEV_SNP, "KVM_GET_DEVICE_ATTR(KVM_X86_SEV_VMSA_FEATURES)",
                    "the host does not say which VMSA features KVM_SEV_INIT2 accepts", e);
        }
        long missing = options.vmsaFeatures() & ~offered;
        if (missing != 0) throw new PlatformException(SEV_SNP, "KVM_SEV_INIT2", String.format(
                "the spec asks for VMSA features 0x%x; the host offers 0x%x and lacks 0x%x", options.vmsaFeatures(),
                offered, missing), null);
        long hypercalls = vm.checkExtension(KvmCap.EXIT_HYPERCALL);
        if ((hypercalls & 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE) == 0) throw new PlatformException(SEV_SNP,
                "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)", String.format("KVM_CAP_EXIT_HYPERCALL is 0x%x, without"
                + " KVM_HC_MAP_GPA_RANGE: the guest's page-state changes could not reach the VMM", hypercalls), null);
        SevDevice sev;
        try {
            sev = kvm.openSevDevice();
        } catch (KvmException e) {
            throw new PlatformException(SEV_SNP, "open /dev/sev", "SEV-SNP commands need the PSP device: " + e.getMessage(), e);
        }
        boolean done = false;
        try {
            command(vm, SevCommand.INIT2, SnpCommands.init2(options.vmsaFeatures()), sev, "KVM_SEV_INIT2");
            try {
                vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
            } catch (KvmException e) {
                throw new PlatformException(SEV_SNP, "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)", e.getMessage(), e);
            }
            command(vm, SevCommand.SNP_LAUNCH_START, SnpCommands.launchStart(options.policy()), sev,
                    String.format("SNP_LAUNCH_START (policy 0x%x)", options.policy()));
            Map<String, Object> state = context.platformState();
            state.put(STATE_CPUID, SnpCpuid.forModel(kvm, options.cpu()));
            state.put(STATE_AP_RESET_EIP, firmware.requireSevEsResetEip());
            state.put(STATE_SEV_DEVICE, sev);
            done = true;
            context.log(String.format("SEV-SNP: KVM_SEV_INIT2 (VMSA features 0x%x of 0x%x offered), hypercall exits for"
                    + " MAP_GPA_RANGE, SNP_LAUNCH_START with policy 0x%x; vCPU model %s, signature %s", options.vmsaFeatures(),
                    offered, options.policy(), options.cpuModel(), options.cpu()));
        } catch (FirmwareImageException e) {
            throw new PlatformException(SEV_SNP, "reading the firmware", e.getMessage(), e);
        } finally {
            if (!done) sev.close();
        }
    }

    @Override @SuppressWarnings("unchecked")
    public void initVcpu(VmContext context, KvmVcpu vcpu) {
        SnpOptions options = options(context.spec());
        Map<String, Object> state = context.platformState();
        List<CpuidEntry> cpuid = (List<CpuidEntry>) state.get(STATE_CPUID);
        Object apEip = state.get(STATE_AP_RESET_EIP);
        if (cpuid == null || apEip == null) throw new PlatformException(SEV_SNP, "initialising vCPU " + vcpu.id(),
                "initVm has not run for this VM", null);
        // vCPU 0 is the boot processor; the others wait at the SEV-ES reset block until the guest wakes them.
        boolean bsp = vcpu.id() == 0;
        long resetEip = bsp ? Vmsa.BSP_RESET_EIP : (Long) apEip;
        try {
            vcpu.setCpuid2(cpuid);
            vcpu.setSregs(SnpVcpuReset.sregs(resetEip, bsp));
            vcpu.setRegs(SnpVcpuReset.regs(resetEip, options.cpu()));
        } catch (KvmException e) {
            throw new PlatformException(SEV_SNP, "initialising vCPU " + vcpu.id(), e.getMessage(), e);
        }
    }

    @Override @SuppressWarnings("unchecked")
    public LaunchResult launch(VmContext context) {
        Map<String, Object> state = context.platformState();
        SevDevice sev = (SevDevice) state.get(STATE_SEV_DEVICE);
        if (sev == null) throw new PlatformException(SEV_SNP, "launch", "no /dev/sev: initVm has not run, or the launch"
                + " already ended", null);
        try {
            SnpOptions options = options(context.spec());
            OvmfImage firmware = firmware(options);
            int vcpus = context.vcpus().size();
            if (vcpus != context.spec().vcpus()) throw new PlatformException(SEV_SNP, "launch", String.format(
                    "the spec names %d vCPUs but the VM has %d; LAUNCH_FINISH measures every vCPU the VM has",
                    context.spec().vcpus(), vcpus), null);
            SnpLaunchPlan plan = plan(firmware, vcpus, options, "planning the launch");
            if (options.kernel() != null) context.log("SEV-SNP measured direct boot: the hashes of " + options.kernel()
                    + (options.initrd() != null ? ", " + options.initrd() : "") + " and the command line go into OVMF's"
                    + " SEV hash table, measured with the SNP_KERNEL_HASHES page. The kernel itself is not loaded into"
                    + " guest memory: a VMM hands it to OVMF through its firmware interface (QEMU's fw_cfg), which"
                    + " Janus does not emulate yet");
            byte[] cpuidPage;
            try {
                cpuidPage = SnpCpuid.page((List<CpuidEntry>) state.get(STATE_CPUID));
            } catch (IllegalArgumentException e) {
                throw new PlatformException(SEV_SNP, "filling the CPUID page", e.getMessage(), e);
            }
            LaunchDigest expected = plan.expectedDigest();
            return SnpLaunch.run(context, sev, plan, cpuidPage, options, expected);
        } finally {
            state.remove(STATE_SEV_DEVICE);
            sev.close();
        }
    }

    @Override public ExitAction onExit(VmContext context, KvmVcpu vcpu, VcpuExit exit) {
        if (exit instanceof VcpuExit.SystemEvent event && event.type() == ExitReason.SYSTEM_EVENT_SEV_TERM) {
            long[] data = event.data();
            context.log(String.format("SEV-SNP guest on vCPU %d asked to terminate (GHCB termination request, GHCB at"
                    + " GPA 0x%x)", vcpu.id(), data.length > 0 ? data[0] : 0));
            return ExitAction.GUEST_TERMINATED;
        }
        return ExitAction.UNHANDLED;
    }

    @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) {
        SnpOptions options = options(spec);
        OvmfImage firmware = firmware(options);
        return Optional.of(plan(firmware, spec.vcpus(), options, "computing the expected measurement")
                .expectedDigest().bytes());
    }

    /** The launch plan of this spec, with the kernel hashes of a measured direct boot when it names a kernel. */
    private static SnpLaunchPlan plan(OvmfImage firmware, int vcpus, SnpOptions options, String step) {
        KernelHashes hashes;
        try {
            hashes = options.kernelHashes();
        } catch (IOException e) {
            throw new PlatformException(SEV_SNP, step, "cannot hash the kernel, initrd or command line: " + e, e);
        }
        try {
            return SnpLaunchPlan.forOvmf(firmware, vcpus, options.cpu(), options.measurementOptions(), hashes);
        } catch (FirmwareImageException e) {
            throw new PlatformException(SEV_SNP, step, e.getMessage(), e);
        }
    }

    /** The spec's options, read without the firmware (checked when it is read). */
    private static SnpOptions options(PlatformSpec spec) {
        SnpOptions.Reading r = SnpOptions.read(spec, false);
        if (r.options() == null) throw new PlatformException(SEV_SNP, "reading the spec", String.join("; ",
                r.problems().stream().map(Problem::toString).toList()), null);
        return r.options();
    }

    private static OvmfImage firmware(SnpOptions options) {
        try {
            OvmfImage image = OvmfImage.parse(options.firmware().toString(), Files.readAllBytes(options.firmware()));
            image.requireSevMetadata();
            return image;
        } catch (IOException e) {
            throw new PlatformException(SEV_SNP, "reading the firmware", "cannot read " + options.firmware() + ": " + e, e);
        } catch (FirmwareImageException e) {
            throw new PlatformException(SEV_SNP, "reading the firmware", e.getMessage(), e);
        }
    }

    private static void command(KvmVm vm, int id, byte[] data, SevDevice sev, String what) {
        try {
            vm.memoryEncryptOp(new SevCommand(id, data, sev));
        } catch (KvmException e) {
            String firmware = e.firmwareError() > 0 ? ", firmware status " + SnpCommands.firmwareStatus(e.firmwareError()) : "";
            throw new PlatformException(SEV_SNP, what, e.getMessage() + firmware, e);
        }
    }
}
