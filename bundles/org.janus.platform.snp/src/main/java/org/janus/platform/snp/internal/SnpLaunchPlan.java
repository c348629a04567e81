package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.janus.platform.snp.measure.CpuSignature;
import org.janus.platform.snp.measure.FirmwareImageException;
import org.janus.platform.snp.measure.KernelHashes;
import org.janus.platform.snp.measure.LaunchDigest;
import org.janus.platform.snp.measure.MeasurementOptions;

/**
 * What a QEMU-style launch of an SEV-SNP guest hands to the firmware, in the order the launch digest depends on:
 * the OVMF image as NORMAL pages, then the SEV metadata sections in OVMF's order (the kernel-hashes section as
 * NORMAL pages holding the SEV hash table when a kernel is given), then at SNP_LAUNCH_FINISH one
 * VMSA per vCPU, vCPU 0 (the boot processor) first. The same order is what sev-snp-measure models.
 *
 * @param memoryUpdates the SNP_LAUNCH_UPDATEs of guest memory, in order
 * @param vmsas         the initial VMSA of each vCPU, by vCPU index
 */
public record SnpLaunchPlan(List<LaunchUpdate> memoryUpdates, List<Vmsa> vmsas) {
    /** More vCPUs than any x86 KVM accepts (KVM_MAX_VCPUS is at most 4096). */
    public static final int MAX_VCPUS = 4096;

    public SnpLaunchPlan {
        memoryUpdates = List.copyOf(memoryUpdates);
        vmsas = List.copyOf(vmsas);
    }

    /**
     * The plan for an OVMF guest without a kernel of its own: the kernel-hashes section, if OVMF has one, becomes
     * zero pages, as QEMU does when no {@code -kernel} is given.
     *
     * @throws FirmwareImageException if the image cannot start an SNP guest
     */
    public static SnpLaunchPlan forOvmf(OvmfImage firmware, int vcpus, CpuSignature cpu, MeasurementOptions options)
            throws FirmwareImageException {
        return forOvmf(firmware, vcpus, cpu, options, null);
    }

    /**
     * The plan for an OVMF guest, with measured direct boot when {@code kernelHashes} is given: OVMF's
     * SNP_KERNEL_HASHES section then holds the SEV hash table as QEMU builds it and is measured as NORMAL pages
     * with those contents. The kernel itself is not part of the launch; OVMF receives it from the VMM later and
     * checks it against its hash.
     *
     * @param kernelHashes the hashes of kernel, initrd and command line, or null without a kernel
     * @throws FirmwareImageException if the image cannot start an SNP guest, or, with a kernel, cannot verify one
     *                                ({@link FirmwareImageException.Problem#NO_KERNEL_HASHES})
     */
    public static SnpLaunchPlan forOvmf(OvmfImage firmware, int vcpus, CpuSignature cpu, MeasurementOptions options,
            KernelHashes kernelHashes) throws FirmwareImageException {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("vCPU count " + vcpus + " outside 1.." + MAX_VCPUS);
        }
        List<SevMetadataSection> sections = firmware.requireSevMetadata();
        long apResetEip = firmware.requireSevEsResetEip();
        int hashTableOffset = kernelHashes == null ? -1 : firmware.requireKernelHashesOffset();

        List<LaunchUpdate> updates = new ArrayList<>();
        updates.add(new LaunchUpdate.Measured(firmware.loadGpa(), firmware.contents()));
        for (SevMetadataSection section : sections) {
            if (section.kind() == SevMetadataSection.Kind.SNP_KERNEL_HASHES && kernelHashes != null) {
                updates.add(new LaunchUpdate.Measured(section.gpa(), ByteBuffer.wrap(SevHashTable.sectionContents(
                        kernelHashes, (int) section.length(), hashTableOffset))));
            } else {
                updates.add(new LaunchUpdate.Unhashed(section.gpa(), section.length(), pageTypeOf(section.kind())));
            }
        }
        List<Vmsa> vmsas = new ArrayList<>();
        vmsas.add(Vmsa.bootProcessor(options.sevFeatures(), cpu));
        Vmsa ap = Vmsa.applicationProcessor(apResetEip, options.sevFeatures(), cpu);
        for (int i = 1; i < vcpus; i++) {
            vmsas.add(ap);
        }
        return new SnpLaunchPlan(updates, vmsas);
    }

    /** The launch digest the firmware reaches at the end of this launch. */
    public LaunchDigest expectedDigest() {
        SnpLaunchDigest digest = new SnpLaunchDigest();
        for (LaunchUpdate update : memoryUpdates) {
            if (update instanceof LaunchUpdate.Measured measured) {
                digest.addNormalPages(measured.gpa(), measured.contents());
            } else {
                digest.addUnhashedPages(update.type(), update.gpa(), update.length());
            }
        }
        // APs share one VMSA; hash each distinct page once.
        Vmsa hashedVmsa = null;
        byte[] hash = null;
        for (Vmsa vmsa : vmsas) {
            if (!vmsa.equals(hashedVmsa)) {
                hashedVmsa = vmsa;
                hash = SnpLaunchDigest.sha384(vmsa.toPage());
            }
            digest.addVmsaPage(hash);
        }
        return digest.digest();
    }

    private static SnpPageType pageTypeOf(SevMetadataSection.Kind kind) {
        return switch (kind) {
            // QEMU pre-validates SEC memory as zero pages (GCE measures it UNMEASURED; not modelled here).
            case SNP_SEC_MEM, SVSM_CAA -> SnpPageType.ZERO;
            case SNP_SECRETS -> SnpPageType.SECRETS;
            case CPUID -> SnpPageType.CPUID;
            // No kernel given: QEMU leaves the hashes area as zero pages (with one, see forOvmf).
            case SNP_KERNEL_HASHES -> SnpPageType.ZERO;
        };
    }
}
