/**
 * The launch measurement of an AMD SEV-SNP guest, computed ahead of its launch: give
 * {@link org.janus.platform.snp.measure.ExpectedMeasurement} the OVMF image, the vCPU count and the
 * {@link org.janus.platform.snp.measure.CpuSignature}, and it returns the {@link
 * org.janus.platform.snp.measure.LaunchDigest} the SNP firmware reports for that guest when QEMU (or Janus, which
 * launches the same way) starts it, with {@link org.janus.platform.snp.measure.KernelHashes} for a measured direct
 * boot. An attestation verifier compares the guest's report against this value.
 */
@Export
@Version("1.1.0")
package org.janus.platform.snp.measure;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
