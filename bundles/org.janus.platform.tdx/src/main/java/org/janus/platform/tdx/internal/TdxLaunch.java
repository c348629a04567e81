package org.janus.platform.tdx.internal;

import org.janus.kvm.api.Errno;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.TdxCommand;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.VmContext;

/**
 * One TD launch, as QEMU's tdx_finalize_vm does it: every TDVF section in metadata order made private and handed to
 * KVM_TDX_INIT_MEM_REGION on the first vCPU (with KVM_TDX_MEASURE_MEMORY_REGION where the section says MR_EXTEND),
 * called again while it answers EAGAIN or EINTR (the kernel leaves the struct where it stopped), then
 * KVM_TDX_FINALIZE_VM.
 *
 * <p>How the contents reach the TDX module depends on the memory strategy. In place, they are written through the
 * shared mapping, the range converted to private (which keeps the bytes: the pages were never in the TD) and
 * INIT_MEM_REGION called with {@code source_addr = 0}, so the module adds the pages where they are. Legacy, converting discards the shared side,
 * so the contents go into a staging memfd and INIT_MEM_REGION copies them from there.
 */
final class TdxLaunch {
    /** Consecutive EAGAIN or EINTR answers without progress after which the launch gives up. */
    static final int MAX_RETRIES = 1000;
    private static final String TDX = ConfidentialPlatform.TDX;

    private final VmContext context;
    private final KvmVcpu vcpu;
    private int calls;
    private int retries;
    private long pages;
    private long measuredPages;

    private TdxLaunch(VmContext context) {
        this.context = context;
        if (context.vcpus().isEmpty()) throw new PlatformException(TDX, "launch", "the TD has no vCPU to add its memory"
                + " through (KVM_TDX_INIT_MEM_REGION is a vCPU ioctl)", null);
        this.vcpu = context.vcpus().get(0);
    }

    /**
     * @param expected the MRTD computed ahead for this image and HOB; the result carries it, since no ioctl returns
     *                 the module's own (the TD report does)
     */
    static LaunchResult run(VmContext context, TdvfImage image, byte[] hob, byte[] expected) {
        return new TdxLaunch(context).launch(image, hob, expected);
    }

    private LaunchResult launch(TdvfImage image, byte[] hob, byte[] expected) {
        boolean inPlace = context.convertsInPlace();
        long largest = image.sections().stream().mapToLong(TdvfSection::size).max().orElse(TdvfImage.PAGE);
        HostMemfd stagingFile = null;
        HostMapping staging = null;
        try {
            if (!inPlace) {
                stagingFile = context.kvm().memfdCreate("janus-tdx-launch-staging", largest);
                staging = stagingFile.mmap(0, largest, true);
            }
            for (TdvfSection s : image.sections()) {
                byte[] contents = s.type() == TdvfSection.Type.TD_HOB ? hob : image.contents(s);
                long source = place(s, contents, staging);
                addAll(s, source);
            }
            finalizeTd();
        } catch (KvmException e) {
            throw new PlatformException(TDX, "staging the launch contents", e.getMessage(), e);
        } finally {
            if (staging != null) staging.close();
            if (stagingFile != null) stagingFile.close();
        }
        String summary = String.format("TDX launch finished (%s): %d KVM_TDX_INIT_MEM_REGION calls (%d retried after EAGAIN"
                + " or EINTR), %d pages added, %d of them measured with their contents; MRTD %s (computed ahead: the TDX"
                + " module gives its own only to the TD, in its TD report)", inPlace ? "in place, source_addr 0"
                : "legacy, from a staging buffer", calls, retries, pages, measuredPages, Mrtd.hex(expected));
        context.log(summary);
        return new LaunchResult(expected, summary);
    }

    /** Puts the section's contents where INIT_MEM_REGION takes them from and makes it private; the source to pass. */
    private long place(TdvfSection s, byte[] contents, HostMapping staging) {
        try {
            if (staging == null) {
                // RAM starts private; converting to shared in place keeps the pages, so the write lands in guest memory.
                context.convert(s.gpa(), s.size(), PageState.SHARED);
                context.writeGuest(s.gpa(), contents);
                context.convert(s.gpa(), s.size(), PageState.PRIVATE);
                return 0;
            }
            staging.write(0, contents);
            context.convert(s.gpa(), s.size(), PageState.PRIVATE);
            return staging.address();
        } catch (RuntimeException e) {
            throw new PlatformException(TDX, "loading the " + s.type() + " section", s + " could not be loaded and made"
                    + " private (a TD needs RAM under every TDVF section: for Debian's OVMF.inteltdx.ms.fd [0x800000,"
                    + " 0x820000) and the image's 4 MiB below 4 GiB): " + e.getMessage(), e);
        }
    }

    /** KVM_TDX_INIT_MEM_REGION until the kernel has added the whole section. */
    private void addAll(TdvfSection s, long source) {
        byte[] region = TdxCommands.memRegion(source, s.gpa(), s.pages());
        int flags = s.measured() ? TdxCommand.MEASURE_MEMORY_REGION : 0;
        int again = 0;
        while (true) {
            long before = TdxCommands.regionPages(region);
            try {
                vcpu.memoryEncryptOp(TdxCommand.withStruct(TdxCommand.INIT_MEM_REGION, flags, region));
                calls++;
                count(before - TdxCommands.regionPages(region), s);
                return;
            } catch (KvmException e) {
                calls++;
                long done = before - TdxCommands.regionPages(region);
                count(done, s);
                if (e.errno() == Errno.EAGAIN || e.errno() == Errno.EINTR) {
                    again = done > 0 ? 0 : again + 1;
                    if (again <= MAX_RETRIES) {
                        retries++;
                        continue;
                    }
                }
                throw new PlatformException(TDX, "KVM_TDX_INIT_MEM_REGION", String.format("%s at GPA 0x%x: %s%s (%s)", s.type(),
                        TdxCommands.regionGpa(region), Errno.name(e.errno()), e.firmwareError() != 0 && e.firmwareError() != KvmException.NONE ? ", "
                        + TdxCommands.status(e.firmwareError()) : "", e.getMessage()), e);
            }
        }
    }

    private void count(long done, TdvfSection s) {
        pages += done;
        if (s.measured()) measuredPages += done;
    }

    private void finalizeTd() {
        try {
            context.vm().memoryEncryptOp(TdxCommand.withValue(TdxCommand.FINALIZE_VM, 0));
        } catch (KvmException e) {
            throw new PlatformException(TDX, "KVM_TDX_FINALIZE_VM", e.getMessage(), e);
        }
    }
}
