package org.janus.guests.internal;

import static org.janus.guests.internal.GuestOps.range;

import org.janus.guests.internal.GuestOps.Face;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.memory.api.ConversionContents;

/**
 * A framebuffer the guest shares with the host to show a frame and takes back (unshares) to draw the next, as a
 * protected guest under pKVM does with its display memory: the same pages change face back and forth, and the
 * picture is meant to survive each change. vCPU 0 draws; the others halt at once. Per frame:
 * <ol>
 *   <li>unshare (MAP_GPA_RANGE to private); from the second frame on, the private side must show what the host saw
 *       last (the frame and the cursor drawn on it while shared);</li>
 *   <li>draw the frame with private accesses and read it back;</li>
 *   <li>share (MAP_GPA_RANGE to shared); the shared side must show the frame just drawn;</li>
 *   <li>draw a cursor through the shared side, as the host's display would see it, and read it back.</li>
 * </ol>
 * What each change must show depends on what the VM's conversions do with contents ({@link GuestProgramContext#contents()}).
 * Where it converts in place on a software-protected or pKVM VM the contents must be preserved at each change. On
 * legacy memory there (the private and shared sides are different pages and the stale one is discarded) each change
 * must read zeros, and the program says that the contents are NOT preserved; data where zeros belong fails the VM as
 * surely as a lost picture does in place. On SEV-SNP and TDX, whose hardware loses a page's plaintext when it changes
 * owner, neither side may show the other's picture after a change; the guest takes the framebuffer into use after
 * each unshare (PVALIDATE, TDG.MEM.PAGE.ACCEPT) and rescinds it before each share on SEV-SNP, as Linux does. Accesses
 * are plain on a software-protected VM (KVM takes the face from the page's state) and explicitly private or shared on
 * SEV-SNP and TDX. On a pKVM protected VM (arm64) the guest shares and unshares with MEM_SHARE and MEM_UNSHARE,
 * granule by granule, and accesses plainly; its memory starts private and pKVM takes back only what was shared, so
 * the first frame has nothing to unshare.
 */
final class FramebufferProgram implements GuestProgram {
    /** The cursor: a stripe of this many bytes drawn through the shared side every frame. */
    static final int CURSOR = 4096;

    private final GuestProgramContext context;
    private final long base;
    private final int size;
    private final int frames;
    private final long seed;

    FramebufferProgram(GuestProgramContext context, long base, int size, int frames, long seed) {
        this.context = context;
        this.base = base;
        this.size = size;
        this.frames = frames;
        this.seed = seed;
    }

    @Override public void run(GuestCpu cpu) {
        if (cpu.vcpuId() != 0) {
            GuestOps.finish(cpu, context);
            return;
        }
        ConversionContents contents = context.contents();
        Face privateFace = Face.of(context.access(), true);
        Face sharedFace = Face.of(context.access(), false);
        GuestOps.print(cpu, context, "framebuffer: " + GuestOps.mib(size) + " at " + range(base, size) + ", " + frames
                + " frames; contents " + switch (contents) {
                    case PRESERVED -> "should be preserved in place";
                    case ZEROED -> "will NOT be preserved (legacy memory)";
                    case LOST -> "will NOT be preserved (" + context.platform() + " memory is encrypted: neither side sees the other's picture)";
                } + " across share and unshare");
        byte[] onScreen = null;
        for (int f = 0; f < frames; f++) {
            String frame = "framebuffer frame " + f;
            boolean startsPrivate = f == 0 && cpu.architecture() == GuestCpu.Architecture.ARM64;
            if (!startsPrivate) GuestOps.makePrivate(cpu, context, base, size, frame + ": unshare");
            if (onScreen != null) {
                String when = frame + ", after unsharing it (";
                switch (contents) {
                    case PRESERVED -> expect(cpu, privateFace, onScreen, when + "the host's last picture)");
                    case ZEROED -> expect(cpu, privateFace, new byte[size], when + "legacy: zeros)");
                    case LOST -> expectNot(cpu, privateFace, onScreen, when + "encrypted memory: never the host's picture)");
                }
            }
            byte[] picture = GuestOps.pattern(seed, f, size);
            GuestOps.write(cpu, privateFace, base, picture);
            expect(cpu, privateFace, picture, frame + ", right after drawing it privately");
            GuestOps.makeShared(cpu, context, base, size, frame + ": share");
            byte[] shown = switch (contents) {
                case PRESERVED -> expect(cpu, sharedFace, picture, frame + ", after sharing it (the picture just drawn)");
                case ZEROED -> expect(cpu, sharedFace, new byte[size], frame + ", after sharing it (legacy: zeros)");
                case LOST -> expectNot(cpu, sharedFace, picture, frame + ", after sharing it (encrypted memory: never the"
                        + " guest's picture)");
            };
            long cursorAt = (GuestOps.mix(seed ^ f) & Long.MAX_VALUE) % (size - CURSOR + 1);
            byte[] cursor = GuestOps.pattern(~seed, f, CURSOR);
            GuestOps.write(cpu, sharedFace, base + cursorAt, cursor);
            System.arraycopy(cursor, 0, shown, (int) cursorAt, CURSOR);
            expect(cpu, sharedFace, shown, frame + ", after drawing the cursor at +0x" + Long.toHexString(cursorAt) + " while shared");
            onScreen = shown;
        }
        GuestOps.print(cpu, context, "framebuffer: " + frames + " frames, " + 2 * frames + " conversions: " + switch (contents) {
            case PRESERVED -> "contents preserved across every share and unshare";
            case ZEROED -> "contents NOT preserved across conversions: every share and unshare read zeros (legacy memory: the other"
                    + " side is a different page, discarded), as expected for this VM";
            case LOST -> "contents NOT preserved across conversions: no share or unshare showed the other side's picture"
                    + " (encrypted memory), as expected for this VM";
        });
        GuestOps.finish(cpu, context);
    }

    /** Checks that the framebuffer reads {@code want} through {@code face}; returns what it read. */
    private byte[] expect(GuestCpu cpu, Face face, byte[] want, String when) {
        byte[] got = GuestOps.read(cpu, face, base, size);
        int diff = GuestOps.firstDifference(got, want);
        if (diff < 0) return got;
        boolean zeroInstead = GuestOps.allZero(got);
        throw new IllegalStateException(String.format("%s: the framebuffer reads 0x%02x at 0x%x, expected 0x%02x%s", when,
                got[diff] & 0xff, base + diff, want[diff] & 0xff, zeroInstead
                        ? " (it reads all zeros: the contents were lost in the conversion)"
                        : GuestOps.allZero(want) ? " (data where a legacy conversion leaves zeros: the stale side was kept)" : ""));
    }

    /** Checks that the framebuffer does not read {@code other} (the other side's picture) through {@code face}; returns what it read. */
    private byte[] expectNot(GuestCpu cpu, Face face, byte[] other, String when) {
        byte[] got = GuestOps.read(cpu, face, base, size);
        if (GuestOps.firstDifference(got, other) >= 0) return got;
        throw new IllegalStateException(when + ": the framebuffer at " + range(base, size) + " reads the other side's picture, "
                + GuestOps.hexBytes(got) + ": the hardware let a picture survive a change of owner");
    }
}
