package org.janus.guests.internal;

import static org.janus.guests.internal.GuestOps.range;

import org.janus.guests.internal.GuestOps.Face;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;

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
 * Where the VM converts in place the contents must be preserved at each change. Where it does not (legacy memory:
 * the private and shared sides are different pages and the stale one is discarded) each change must read zeros,
 * and the program says that the contents are NOT preserved; data where zeros belong fails the VM as surely as a
 * lost picture does in place. Accesses are plain on a software-protected VM (KVM takes the face from the page's
 * state) and explicitly private or shared on SEV-SNP and TDX. On a pKVM protected VM (arm64) the guest shares and
 * unshares with MEM_SHARE and MEM_UNSHARE, granule by granule, and accesses plainly; its memory starts private and
 * pKVM takes back only what was shared, so the first frame has nothing to unshare.
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
        boolean kept = context.preservesContents();
        Face privateFace = Face.of(context.access(), true);
        Face sharedFace = Face.of(context.access(), false);
        GuestOps.print(cpu, context, "framebuffer: " + GuestOps.mib(size) + " at " + range(base, size) + ", " + frames
                + " frames; contents " + (kept ? "should be preserved in place" : "will NOT be preserved (legacy memory)")
                + " across share and unshare");
        byte[] onScreen = null;
        for (int f = 0; f < frames; f++) {
            String frame = "framebuffer frame " + f;
            boolean startsPrivate = f == 0 && cpu.architecture() == GuestCpu.Architecture.ARM64;
            if (!startsPrivate) GuestOps.convert(cpu, base, size, true, frame + ": unshare");
            if (onScreen != null) expect(cpu, privateFace, kept ? onScreen : new byte[size], frame + ", after unsharing it ("
                    + (kept ? "the host's last picture" : "legacy: zeros") + ")");
            byte[] picture = GuestOps.pattern(seed, f, size);
            GuestOps.write(cpu, privateFace, base, picture);
            expect(cpu, privateFace, picture, frame + ", right after drawing it privately");
            GuestOps.convert(cpu, base, size, false, frame + ": share");
            byte[] shown = kept ? picture : new byte[size];
            expect(cpu, sharedFace, shown, frame + ", after sharing it (" + (kept ? "the picture just drawn" : "legacy: zeros") + ")");
            long cursorAt = (GuestOps.mix(seed ^ f) & Long.MAX_VALUE) % (size - CURSOR + 1);
            byte[] cursor = GuestOps.pattern(~seed, f, CURSOR);
            GuestOps.write(cpu, sharedFace, base + cursorAt, cursor);
            System.arraycopy(cursor, 0, shown, (int) cursorAt, CURSOR);
            expect(cpu, sharedFace, shown, frame + ", after drawing the cursor at +0x" + Long.toHexString(cursorAt) + " while shared");
            onScreen = shown;
        }
        GuestOps.print(cpu, context, "framebuffer: " + frames + " frames, " + 2 * frames + " conversions: " + (kept
                ? "contents preserved across every share and unshare"
                : "contents NOT preserved across conversions: every share and unshare read zeros (legacy memory: the other"
                + " side is a different page, discarded), as expected for this VM"));
        GuestOps.finish(cpu, context);
    }

    private void expect(GuestCpu cpu, Face face, byte[] want, String when) {
        byte[] got = GuestOps.read(cpu, face, base, size);
        int diff = GuestOps.firstDifference(got, want);
        if (diff < 0) return;
        boolean zeroInstead = GuestOps.allZero(got);
        throw new IllegalStateException(String.format("%s: the framebuffer reads 0x%02x at 0x%x, expected 0x%02x%s", when,
                got[diff] & 0xff, base + diff, want[diff] & 0xff, zeroInstead
                        ? " (it reads all zeros: the contents were lost in the conversion)"
                        : GuestOps.allZero(want) ? " (data where a legacy conversion leaves zeros: the stale side was kept)" : ""));
    }
}
