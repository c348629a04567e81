package com.example.acme.sealed.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.janus.kvm.api.EnableCap;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.api.VmType;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.osgi.service.component.annotations.Component;

/**
 * {@code acme-sealed}: a software-protected VM (KVM_X86_SW_PROTECTED_VM) whose launch seals a boot blob. RAM starts
 * shared; the launch writes the blob at 1 MiB, reads it back and measures what it finds, then makes those pages
 * private, so the guest starts with sealed code the host can no longer read or change. Its own rules: the host must
 * offer the software-protected VM type and the MAP_GPA_RANGE hypercall exit (its guests convert with it), its RAM
 * must convert in place (the blob must survive going private), and the VM has at most 8 vCPUs. Options: {@code pages} (1 to 256, default 16) and {@code seed} (a whole number, default 1).
 */
@Component(service = ConfidentialPlatform.class, property = ConfidentialPlatform.PROPERTY + "=" + SealedPlatform.ID)
public final class SealedPlatform implements ConfidentialPlatform {
    static final String ID = "acme-sealed";
    static final int MAX_VCPUS = 8;
    static final long MAP_GPA_RANGE = 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE;

    @Override public String id() { return ID; }

    @Override public long vmType(Kvm kvm) { return VmType.X86_SW_PROTECTED; }

    @Override public Support support(Kvm kvm) {
        long types = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.VM_TYPES));
        if ((types & (1L << VmType.X86_SW_PROTECTED)) == 0)
            return Support.no("sealed VMs are software-protected VMs, and this host's KVM_CAP_VM_TYPES (0x" + Long.toHexString(types)
                    + ") lacks type 1");
        long exits = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.EXIT_HYPERCALL));
        if ((exits & MAP_GPA_RANGE) == 0)
            return Support.no("sealed guests convert memory with MAP_GPA_RANGE, and this host's KVM_CAP_EXIT_HYPERCALL (0x"
                    + Long.toHexString(exits) + ") does not deliver it");
        return Support.yes("software-protected VMs (type 1) with MAP_GPA_RANGE exits");
    }

    @Override public PageState initialRamState() { return PageState.SHARED; }

    @Override public List<Problem> validate(PlatformSpec spec) {
        List<Problem> problems = new ArrayList<>();
        spec.options().forEach((name, value) -> {
            switch (name) {
                case "pages" -> {
                    if (!(value instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.longValue() < 1 || n.longValue() > 256)
                        problems.add(new Problem("$.platform.pages", value + " is not a whole number of pages from 1 to 256"));
                }
                case "seed" -> {
                    if (!(value instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()))
                        problems.add(new Problem("$.platform.seed", value + " is not a whole number"));
                }
                default -> problems.add(new Problem("$.platform." + name, "unknown option; acme-sealed knows pages and seed"));
            }
        });
        if (spec.vcpus() > MAX_VCPUS) problems.add(new Problem("$.vcpus.count", "a sealed VM has at most " + MAX_VCPUS + " vCPUs"));
        if (spec.firmware() != null || spec.kernel() != null || spec.initrd() != null)
            problems.add(new Problem("$.images", "a sealed VM boots its own blob; name no images"));
        return problems;
    }

    static Seal seal(PlatformSpec spec) {
        long seed = spec.option("seed").map(v -> ((Number) v).longValue()).orElse(1L);
        int pages = spec.option("pages").map(v -> ((Number) v).intValue()).orElse(16);
        return new Seal(seed, pages, spec.vcpus());
    }

    @Override public void initVm(VmContext context) {
        try {
            context.vm().enableCap(EnableCap.of(KvmCap.EXIT_HYPERCALL, MAP_GPA_RANGE));
        } catch (RuntimeException e) {
            throw new PlatformException(ID, "enable KVM_CAP_EXIT_HYPERCALL", e.getMessage(), e);
        }
    }

    @Override public void initVcpu(VmContext context, KvmVcpu vcpu) {}

    /** Loads, measures what the guest will find, and seals. Everything it needs is in the spec: no per-VM state. */
    @Override public LaunchResult launch(VmContext context) {
        // The host writes the blob while the pages are shared; only a conversion that keeps contents keeps it when they
        // turn private (legacy memory would give the guest a fresh private page; encrypting hardware, garbage).
        if (context.conversionContents() != ConversionContents.PRESERVED)
            throw new PlatformException(ID, "launch", "a sealed VM needs conversions that keep contents (the guest-memfd backend):"
                    + " its blob must survive going private, and here a page reads " + context.conversionContents()
                    + " after a conversion", null);
        Seal seal = seal(context.spec());
        Seal.Measurement m = new Seal.Measurement(seal.vcpus());
        for (int n = 0; n < seal.pages(); n++) {
            long gpa = Seal.GPA + (long) n * Seal.PAGE;
            context.writeGuest(gpa, seal.page(n));
            m.page(gpa, context.readGuest(gpa, Seal.PAGE));
        }
        context.convert(Seal.GPA, (long) seal.pages() * Seal.PAGE, PageState.PRIVATE);
        return new LaunchResult(m.finish(), "sealed " + seal.pages() + " pages at 0x" + Long.toHexString(Seal.GPA));
    }

    @Override public ExitAction onExit(VmContext context, KvmVcpu vcpu, VcpuExit exit) { return ExitAction.UNHANDLED; }

    @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) { return Optional.of(seal(spec).expected()); }
}
