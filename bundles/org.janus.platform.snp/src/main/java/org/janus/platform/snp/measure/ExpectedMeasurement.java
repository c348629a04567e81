package org.janus.platform.snp.measure;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.janus.platform.snp.internal.OvmfImage;
import org.janus.platform.snp.internal.SnpLaunchPlan;

/**
 * The launch digest an SEV-SNP guest will have, computed without launching it: for a guest started as QEMU starts
 * one (OVMF loaded by {@code -bios} so that it ends at 4 GiB, its SEV metadata prepared, every vCPU in its reset
 * state), which is also how Janus launches. It equals what sev-snp-measure computes in {@code --mode snp
 * --vmm-type QEMU} for the same image, vCPU count, CPU signature and guest features.
 */
public final class ExpectedMeasurement {

    private ExpectedMeasurement() {
    }

    /**
     * @param firmware the OVMF image as passed to {@code -bios}
     * @param vcpus    the number of vCPUs, 1 or more
     * @param cpu      the vCPU signature, e.g. {@link CpuSignature#ofQemuModel(String) ofQemuModel("EPYC-Milan")}
     * @throws FirmwareImageException if the image cannot start an SNP guest, e.g. an OVMF without SEV metadata
     */
    public static LaunchDigest compute(Path firmware, int vcpus, CpuSignature cpu, MeasurementOptions options)
            throws IOException, FirmwareImageException {
        return compute(firmware.toString(), Files.readAllBytes(firmware), vcpus, cpu, options);
    }

    /**
     * @param firmwareName what to call the image in error messages
     * @param firmware     the bytes of the OVMF image
     */
    public static LaunchDigest compute(String firmwareName, byte[] firmware, int vcpus, CpuSignature cpu,
            MeasurementOptions options) throws FirmwareImageException {
        return compute(firmwareName, firmware, vcpus, cpu, options, null);
    }

    /**
     * For a measured direct boot ({@code -kernel}, {@code -initrd}, {@code -append} with {@code kernel-hashes=on}):
     * the kernel's, initrd's and command line's hashes go into OVMF's SNP_KERNEL_HASHES page, which is measured
     * with its contents. The kernel itself is not measured at launch; OVMF checks it against its hash.
     *
     * @param kernelHashes the hashes, or null for a guest without a kernel of its own
     * @throws FirmwareImageException also {@link FirmwareImageException.Problem#NO_KERNEL_HASHES} when a kernel is
     *                                given to an OVMF without an SNP_KERNEL_HASHES section (Debian's OVMF.fd)
     */
    public static LaunchDigest compute(Path firmware, int vcpus, CpuSignature cpu, MeasurementOptions options,
            KernelHashes kernelHashes) throws IOException, FirmwareImageException {
        return compute(firmware.toString(), Files.readAllBytes(firmware), vcpus, cpu, options, kernelHashes);
    }

    /** As {@link #compute(Path, int, CpuSignature, MeasurementOptions, KernelHashes)}, for an image in memory. */
    public static LaunchDigest compute(String firmwareName, byte[] firmware, int vcpus, CpuSignature cpu,
            MeasurementOptions options, KernelHashes kernelHashes) throws FirmwareImageException {
        OvmfImage image = OvmfImage.parse(firmwareName, firmware);
        return SnpLaunchPlan.forOvmf(image, vcpus, cpu, options, kernelHashes).expectedDigest();
    }
}
