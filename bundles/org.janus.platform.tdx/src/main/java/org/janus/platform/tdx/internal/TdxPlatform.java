package org.janus.platform.tdx.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.janus.kvm.api.CpuidEntry;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.TdxCommand;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.osgi.service.component.annotations.Component;

/**
 * Intel TDX (KVM_X86_TDX_VM): KVM_TDX_CAPABILITIES, KVM_TDX_INIT_VM with the spec's attributes and XFAM and a CPUID
 * the capabilities allow, hypercall exits for the guest's MapGPA conversions, KVM_TDX_INIT_VCPU with the TD HOB's
 * address in RCX, and a launch of TDVF as QEMU does it ({@link TdxLaunch}). The MRTD is computed ahead from the same
 * image ({@link Mrtd}), so it equals what the TDX module computes for the launch.
 *
 * <p>What the spec must provide: a TDVF image, and RAM under every TDVF section (for Debian's OVMF.inteltdx.ms.fd:
 * [0x800000, 0x820000) and [0xffc00000, 4 GiB)).
 *
 * <p>Per-VM state lives in {@link VmContext#platformState()}: the CPUID given to the vCPUs and the TD HOB's GPA.
 */
@Component(service = ConfidentialPlatform.class, property = ConfidentialPlatform.PROPERTY + "=" + ConfidentialPlatform.TDX)
public final class TdxPlatform implements ConfidentialPlatform {
    /** platformState key: the CPUID entries of KVM_TDX_INIT_VM, also set on every vCPU (a List of CpuidEntry). */
    static final String STATE_CPUID = "tdx.cpuid";
    /** platformState key: the TD HOB's GPA (Long), the vCPUs' initial RCX. */
    static final String STATE_HOB_GPA = "tdx.hobGpa";
    private static final int TDX_VM_TYPE_BIT = 1 << (int) VmType.X86_TDX;
    /** CPUID.7.0: EBX HLE (4) and RTM (11), ECX WAITPKG (5), which KVM refuses in a TD. */
    private static final int TSX_BITS = (1 << 4) | (1 << 11);
    private static final int WAITPKG = 1 << 5;

    @Override public String id() { return TDX; }

    @Override public long vmType(Kvm kvm) { return VmType.X86_TDX; }

    @Override public Support support(Kvm kvm) {
        int types = kvm.checkExtension(KvmCap.VM_TYPES);
        if ((types & TDX_VM_TYPE_BIT) == 0) return Support.no(String.format("KVM_CAP_VM_TYPES is 0x%x, without"
                + " KVM_X86_TDX_VM (bit 5): this host cannot run TDX guests (it needs an Intel CPU with TDX enabled in"
                + " firmware, Linux 6.16 or later and kvm_intel loaded with tdx=1)", types));
        return Support.yes(String.format("KVM_CAP_VM_TYPES 0x%x has KVM_X86_TDX_VM", types));
    }

    @Override public PageState initialRamState() { return PageState.PRIVATE; }

    /**
     * No: a page that leaves the TD (TDH.MEM.PAGE.REMOVE) never shows the host the TD's plaintext, and a page that
     * turns private is PENDING until the guest accepts it, which fills it with zeros (TDG.MEM.PAGE.ACCEPT), in place as
     * in legacy memory.
     */
    @Override public boolean keepsPlaintextAcrossConversion() { return false; }

    @Override public List<Problem> validate(PlatformSpec spec) { return TdxOptions.read(spec, true).problems(); }

    @Override public void initVm(VmContext context) {
        TdxOptions options = options(context.spec());
        TdvfImage image = firmware(options);
        KvmVm vm = context.vm();
        TdxCommands.Capabilities caps = capabilities(vm);
        long attributes = options.attributes();
        if ((attributes & ~caps.supportedAttributes()) != 0) throw new PlatformException(TDX, "$.platform.attributes",
                String.format("0x%x asks for TD attributes 0x%x that this host does not offer (KVM_TDX_CAPABILITIES:"
                        + " 0x%x)", attributes, attributes & ~caps.supportedAttributes(), caps.supportedAttributes()), null);
        long xfam = options.xfam() != null ? options.xfam() : caps.supportedXfam();
        if ((xfam & ~caps.supportedXfam()) != 0) throw new PlatformException(TDX, "$.platform.xfam", String.format(
                "0x%x asks for XFAM bits 0x%x that this host does not offer (KVM_TDX_CAPABILITIES: 0x%x)", xfam,
                xfam & ~caps.supportedXfam(), caps.supportedXfam()), null);
        List<CpuidEntry> cpuid = cpuid(context.kvm(), caps, options.gpaw());
        long hypercalls = vm.checkExtension(KvmCap.EXIT_HYPERCALL);
        if ((hypercalls & 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE) == 0) throw new PlatformException(TDX,
                "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)", String.format("KVM_CAP_EXIT_HYPERCALL is 0x%x, without"
                + " KVM_HC_MAP_GPA_RANGE: the guest's MapGPA requests could not reach the VMM", hypercalls), null);
        try {
            vm.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_VM, 0, TdxCommands.initVm(attributes, xfam,
                    options.mrConfigId(), options.mrOwner(), options.mrOwnerConfig(), cpuid)));
        } catch (KvmException e) {
            throw failure("KVM_TDX_INIT_VM", String.format("attributes 0x%x, XFAM 0x%x, GPAW %d", attributes, xfam, options.gpaw()), e);
        }
        try {
            vm.enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE));
        } catch (KvmException e) {
            throw new PlatformException(TDX, "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)", e.getMessage(), e);
        }
        Map<String, Object> state = context.platformState();
        state.put(STATE_CPUID, cpuid);
        state.put(STATE_HOB_GPA, image.hob().gpa());
        context.log(String.format("TDX: KVM_TDX_INIT_VM with attributes 0x%x (offered 0x%x), XFAM 0x%x (offered 0x%x),"
                + " GPAW %d (shared bit %d), %d CPUID leaves; hypercall exits for MapGPA", attributes,
                caps.supportedAttributes(), xfam, caps.supportedXfam(), options.gpaw(), options.gpaw() - 1, cpuid.size()));
    }

    @Override @SuppressWarnings("unchecked")
    public void initVcpu(VmContext context, KvmVcpu vcpu) {
        Map<String, Object> state = context.platformState();
        List<CpuidEntry> cpuid = (List<CpuidEntry>) state.get(STATE_CPUID);
        Object hob = state.get(STATE_HOB_GPA);
        if (cpuid == null || hob == null) throw new PlatformException(TDX, "initialising vCPU " + vcpu.id(),
                "initVm has not run for this VM", null);
        try {
            // TDVF finds its memory map in RCX; KVM_SET_CPUID2 keeps KVM's idea of the CPUID the module enforces.
            vcpu.memoryEncryptOp(TdxCommand.withValue(TdxCommand.INIT_VCPU, (Long) hob));
            vcpu.setCpuid2(cpuid);
        } catch (KvmException e) {
            throw failure("KVM_TDX_INIT_VCPU", "vCPU " + vcpu.id(), e);
        }
    }

    @Override public LaunchResult launch(VmContext context) {
        TdxOptions options = options(context.spec());
        TdvfImage image = firmware(options);
        int vcpus = context.vcpus().size();
        if (vcpus != context.spec().vcpus()) throw new PlatformException(TDX, "launch", String.format(
                "the spec names %d vCPUs but the VM has %d", context.spec().vcpus(), vcpus), null);
        byte[] hob = hob(image, context.spec());
        return TdxLaunch.run(context, image, hob, Mrtd.of(image, hob));
    }

    @Override public ExitAction onExit(VmContext context, KvmVcpu vcpu, VcpuExit exit) {
        if (exit instanceof VcpuExit.SystemEvent event && event.type() == ExitReason.SYSTEM_EVENT_TDX_FATAL) {
            long[] d = event.data();
            context.log(String.format("TDX guest on vCPU %d reported a fatal error (TDG.VP.VMCALL<ReportFatalError>, error"
                    + " code 0x%x)", vcpu.id(), d.length > 12 ? d[12] : 0));
            return ExitAction.GUEST_TERMINATED;
        }
        return ExitAction.UNHANDLED;
    }

    @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) {
        TdvfImage image = firmware(options(spec));
        return Optional.of(Mrtd.of(image, hob(image, spec)));
    }

    /** The TD HOB for the spec's RAM, or the platform's refusal when the TD_HOB section cannot hold its ranges. */
    private static byte[] hob(TdvfImage image, PlatformSpec spec) {
        try {
            return TdHob.build(image, spec.ram());
        } catch (IllegalStateException e) {
            throw new PlatformException(TDX, "TD HOB", e.getMessage() + ": fewer RAM regions are needed", null);
        }
    }

    /** KVM_TDX_CAPABILITIES with room for every leaf KVM could report. */
    private static TdxCommands.Capabilities capabilities(KvmVm vm) {
        byte[] caps = TdxCommands.capabilitiesBuffer(TdxCommands.MAX_CPUID_ENTRIES);
        try {
            vm.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.CAPABILITIES, 0, caps));
        } catch (KvmException e) {
            throw failure("KVM_TDX_CAPABILITIES", "", e);
        }
        return TdxCommands.capabilities(caps);
    }

    /**
     * The TD's CPUID: for every leaf the TDX module lets userspace configure, the bits the host supports
     * (KVM_GET_SUPPORTED_CPUID) within the configurable ones, without TSX and WAITPKG, and the GPAW in
     * 0x80000008.EAX[23:16]; then checked against the capabilities, as the module will.
     */
    static List<CpuidEntry> cpuid(Kvm kvm, TdxCommands.Capabilities caps, int gpaw) {
        List<CpuidEntry> host;
        try {
            host = kvm.getSupportedCpuid(TdxCommands.MAX_CPUID_ENTRIES);
        } catch (KvmException e) {
            throw new PlatformException(TDX, "KVM_GET_SUPPORTED_CPUID", e.getMessage(), e);
        }
        List<CpuidEntry> out = new ArrayList<>();
        for (CpuidEntry mask : caps.configurableCpuid()) {
            CpuidEntry h = host.stream().filter(e -> e.function() == mask.function()
                    && ((e.flags() & CpuidEntry.FLAG_SIGNIFCANT_INDEX) == 0 || e.index() == mask.index())).findFirst().orElse(null);
            boolean phys = mask.function() == 0x80000008;
            if (h == null && !phys) continue;
            int eax = h == null ? 0 : h.eax() & mask.eax();
            int ebx = h == null ? 0 : h.ebx() & mask.ebx();
            int ecx = h == null ? 0 : h.ecx() & mask.ecx();
            int edx = h == null ? 0 : h.edx() & mask.edx();
            if (mask.function() == 7 && mask.index() == 0) {
                ebx &= ~TSX_BITS;
                ecx &= ~WAITPKG;
            }
            if (phys) eax = (eax & ~0xff0000) | gpaw << 16;
            out.add(new CpuidEntry(mask.function(), mask.index(), 0, eax, ebx, ecx, edx));
        }
        if (out.stream().noneMatch(e -> e.function() == 0x80000008)) throw new PlatformException(TDX, "building the CPUID",
                "KVM_TDX_CAPABILITIES offers no CPUID 0x80000008, where KVM takes the GPAW from", null);
        for (CpuidEntry e : out) {
            CpuidEntry mask = caps.configurableCpuid().stream().filter(m -> m.function() == e.function() && m.index() == e.index())
                    .findFirst().orElseThrow();
            int eax = e.function() == 0x80000008 ? e.eax() & ~0xff0000 : e.eax();
            if ((eax & ~mask.eax()) != 0 || (e.ebx() & ~mask.ebx()) != 0 || (e.ecx() & ~mask.ecx()) != 0 || (e.edx() & ~mask.edx()) != 0)
                throw new PlatformException(TDX, "building the CPUID", String.format("leaf 0x%x.%d sets bits the TDX"
                        + " module does not let userspace configure", e.function(), e.index()), null);
        }
        return List.copyOf(out);
    }

    private static TdxOptions options(PlatformSpec spec) {
        TdxOptions.Reading r = TdxOptions.read(spec, false);
        if (r.options() == null) throw new PlatformException(TDX, "reading the spec", String.join("; ",
                r.problems().stream().map(Problem::toString).toList()), null);
        return r.options();
    }

    private static TdvfImage firmware(TdxOptions options) {
        try {
            return TdvfImage.read(options.firmware());
        } catch (IOException e) {
            throw new PlatformException(TDX, "reading the firmware", "cannot read " + options.firmware() + ": " + e, e);
        } catch (TdvfException e) {
            throw new PlatformException(TDX, "reading the firmware", e.getMessage(), e);
        }
    }

    private static PlatformException failure(String step, String what, KvmException e) {
        String status = e.firmwareError() != 0 && e.firmwareError() != KvmException.NONE ? ", " + TdxCommands.status(e.firmwareError()) : "";
        return new PlatformException(TDX, step, (what.isEmpty() ? "" : what + ": ") + org.janus.kvm.api.Errno.name(e.errno())
                + status + " (" + e.getMessage() + ")", e);
    }
}
