package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.util.List;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.SevCommand;
import org.janus.kvm.api.SevDevice;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.VmContext;
import org.janus.platform.snp.measure.LaunchDigest;

/**
 * One SEV-SNP launch, from the loaded images to SNP_LAUNCH_FINISH, as QEMU's sev_snp_launch_finish does it: every
 * update of the {@link SnpLaunchPlan} in order, each range made private and handed to SNP_LAUNCH_UPDATE until the
 * kernel has taken all of it, then LAUNCH_FINISH, which measures the vCPUs' VMSAs.
 *
 * <p>How a payload reaches the firmware depends on the memory strategy. In place, the payload is written through
 * the shared mapping, the range converted to private (which keeps the bytes: the pages were never the guest's, so
 * there is nothing to decrypt yet) and LAUNCH_UPDATE called with {@code uaddr = 0}, so the firmware measures and
 * encrypts the pages where they are. Legacy, converting discards the shared
 * side, so the payload goes into a separate staging memfd and LAUNCH_UPDATE copies it from there ({@code uaddr}).
 */
final class SnpLaunch {
    /** Consecutive EAGAIN (or EINTR) answers without progress after which the launch gives up. */
    static final int MAX_RETRIES = 1000;
    private static final int PAGE = 4096;

    private final VmContext context;
    private final KvmVm vm;
    private final SevDevice sev;
    private int calls;
    private int retries;
    private long pages;
    private long measuredPages;

    private SnpLaunch(VmContext context, SevDevice sev) {
        this.context = context;
        this.vm = context.vm();
        this.sev = sev;
    }

    /**
     * Launches the VM of {@code context}: loads and measures the memory of {@code plan}, then finishes.
     *
     * @param expected the digest computed ahead for this plan; the result carries it, since no ioctl returns the
     *                 firmware's own (the guest's attestation report does)
     */
    static LaunchResult run(VmContext context, SevDevice sev, SnpLaunchPlan plan, byte[] cpuidPage, SnpOptions options,
            LaunchDigest expected) {
        return new SnpLaunch(context, sev).launch(plan, cpuidPage, options, expected);
    }

    private LaunchResult launch(SnpLaunchPlan plan, byte[] cpuidPage, SnpOptions options, LaunchDigest expected) {
        boolean inPlace = context.convertsInPlace();
        long staging = inPlace ? 0 : plan.memoryUpdates().stream().mapToLong(LaunchUpdate::length).max().orElse(PAGE);
        HostMemfd stagingFile = null;
        HostMapping stagingMap = null;
        try {
            if (!inPlace) {
                stagingFile = context.kvm().memfdCreate("janus-snp-launch-staging", staging);
                stagingMap = stagingFile.mmap(0, staging, true);
            }
            for (LaunchUpdate update : plan.memoryUpdates()) {
                byte[] payload = payload(update, cpuidPage);
                long uaddr = place(update, payload, stagingMap);
                try {
                    updateAll(update, uaddr);
                } catch (PlatformException e) {
                    if (update.type() == SnpPageType.CPUID && stagingMap != null) throw withCpuidReport(e, payload, stagingMap);
                    throw e;
                }
            }
            finish(options);
        } catch (KvmException e) {
            throw new PlatformException(ConfidentialPlatform.SEV_SNP, "staging the launch payload", e.getMessage(), e);
        } finally {
            if (stagingMap != null) stagingMap.close();
            if (stagingFile != null) stagingFile.close();
        }
        String summary = String.format("SEV-SNP launch finished (%s): %d LAUNCH_UPDATE calls (%d retried after EAGAIN),"
                + " %d pages, %d of them measured with their contents, %d VMSA pages; launch digest %s (computed ahead:"
                + " the firmware gives its own only to the guest, in the attestation report)",
                inPlace ? "in place, uaddr 0" : "legacy, from a staging buffer", calls, retries, pages, measuredPages,
                context.vcpus().size(), expected.hex());
        context.log(summary);
        return new LaunchResult(expected.bytes(), summary);
    }

    /** What the firmware is given for an update: the image, the CPUID page, a zero page for SECRETS, or nothing (ZERO). */
    private static byte[] payload(LaunchUpdate update, byte[] cpuidPage) {
        if (update instanceof LaunchUpdate.Measured m) {
            ByteBuffer b = m.contents().duplicate();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return bytes;
        }
        return switch (update.type()) {
            case CPUID -> {
                byte[] p = new byte[(int) update.length()];
                System.arraycopy(cpuidPage, 0, p, 0, Math.min(cpuidPage.length, p.length));
                yield p;
            }
            case SECRETS, UNMEASURED -> new byte[(int) update.length()];
            default -> null;
        };
    }

    /**
     * Puts the payload where LAUNCH_UPDATE takes it from and makes the range private; returns the uaddr to pass.
     */
    private long place(LaunchUpdate update, byte[] payload, HostMapping staging) {
        try {
            return placeInRam(update, payload, staging);
        } catch (RuntimeException e) {
            throw new PlatformException(ConfidentialPlatform.SEV_SNP, "loading " + update.type() + " pages", String.format(
                    "[0x%x, 0x%x) could not be loaded and made private (an SEV-SNP VM needs RAM under the OVMF image,"
                    + " which ends at 4 GiB, and under OVMF's SEV metadata sections): %s", update.gpa(),
                    update.gpa() + update.length(), e.getMessage()), e);
        }
    }

    private long placeInRam(LaunchUpdate update, byte[] payload, HostMapping staging) {
        long gpa = update.gpa();
        long size = update.length();
        if (payload == null) {
            context.convert(gpa, size, PageState.PRIVATE);
            return 0;
        }
        if (staging == null) {
            // RAM starts private; converting to shared in place keeps the pages, so the write lands in guest memory.
            context.convert(gpa, size, PageState.SHARED);
            context.writeGuest(gpa, payload);
            context.convert(gpa, size, PageState.PRIVATE);
            return 0;
        }
        staging.write(0, payload);
        context.convert(gpa, size, PageState.PRIVATE);
        return staging.address();
    }

    /** SNP_LAUNCH_UPDATE until the kernel has taken the whole range (partial progress, EAGAIN). */
    private void updateAll(LaunchUpdate update, long uaddr) {
        byte[] cmd = SnpCommands.launchUpdate(update.gpa() / PAGE, uaddr, update.length(), update.type());
        int again = 0;
        while (true) {
            long gfnBefore = SnpCommands.updateGfn(cmd);
            try {
                vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_UPDATE, cmd, sev));
            } catch (KvmException e) {
                if ((e.errno() == Errno.EAGAIN || e.errno() == Errno.EINTR) && ++again <= MAX_RETRIES) {
                    retries++;
                    continue;
                }
                throw failure("SNP_LAUNCH_UPDATE", String.format("%s pages at GPA 0x%x", update.type(),
                        SnpCommands.updateGfn(cmd) * PAGE), e);
            }
            calls++;
            again = 0;
            long done = (SnpCommands.updateGfn(cmd) - gfnBefore) * PAGE;
            pages += done / PAGE;
            if (update.type().contentsMeasured()) measuredPages += done / PAGE;
            if (SnpCommands.updateLength(cmd) == 0) return;
            if (done == 0) throw new PlatformException(ConfidentialPlatform.SEV_SNP, "SNP_LAUNCH_UPDATE", String.format(
                    "the kernel made no progress at GPA 0x%x with 0x%x bytes left", gfnBefore * PAGE,
                    SnpCommands.updateLength(cmd)), null);
        }
    }

    /**
     * SNP_LAUNCH_FINISH, with the ID block and host data when the spec has them. The ID block and its
     * authentication structure must be in the VMM's memory: a small staging memfd, freed afterwards.
     */
    private void finish(SnpOptions options) {
        HostMemfd idFile = null;
        HostMapping idMap = null;
        try {
            long idBlock = 0;
            long idAuth = 0;
            if (options.idBlock() != null) {
                idFile = context.kvm().memfdCreate("janus-snp-id-block", 2L * PAGE);
                idMap = idFile.mmap(0, 2L * PAGE, true);
                idMap.write(0, options.idBlock());
                idMap.write(PAGE, options.idAuth());
                idBlock = idMap.address();
                idAuth = idMap.address() + PAGE;
            }
            byte[] cmd = SnpCommands.launchFinish(idBlock, idAuth, options.authorKey(), options.hostData());
            try {
                vm.memoryEncryptOp(new SevCommand(SevCommand.SNP_LAUNCH_FINISH, cmd, sev));
            } catch (KvmException e) {
                throw failure("SNP_LAUNCH_FINISH", options.idBlock() != null ? "with the spec's ID block" : "", e);
            }
        } finally {
            if (idMap != null) idMap.close();
            if (idFile != null) idFile.close();
        }
    }

    /** Legacy: KVM copied the firmware's corrected CPUID page back into the staging buffer; say what differed. */
    private static PlatformException withCpuidReport(PlatformException e, byte[] sent, HostMapping staging) {
        if (!(e.getCause() instanceof KvmException k) || k.firmwareError() != 0x16) return e;
        List<String> diffs = SnpCpuid.mismatches(sent, staging.read(0, PAGE));
        if (diffs.isEmpty()) return e;
        return new PlatformException(ConfidentialPlatform.SEV_SNP, "SNP_LAUNCH_UPDATE",
                "the firmware refused the CPUID page: " + String.join("; ", diffs), k);
    }

    private static PlatformException failure(String step, String what, KvmException e) {
        String firmware = e.firmwareError() > 0 ? ", firmware status " + SnpCommands.firmwareStatus(e.firmwareError()) : "";
        return new PlatformException(ConfidentialPlatform.SEV_SNP, step, (what.isEmpty() ? "" : what + ": ")
                + Errno.name(e.errno()) + firmware + " (" + e.getMessage() + ")", e);
    }
}
