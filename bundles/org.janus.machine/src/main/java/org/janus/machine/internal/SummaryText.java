package org.janus.machine.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.janus.machine.RunSummary;
import org.janus.memory.api.MemoryFigures;

/** A {@link RunSummary} as plain text for a terminal; the last line is the verdict ({@link RunCommand#RESULT_OK}). */
final class SummaryText {
    private SummaryText() {}

    static String render(RunSummary s) {
        StringBuilder b = new StringBuilder();
        b.append("Janus run: ").append(s.name()).append(" (").append(s.id()).append(")\n");
        b.append("  kvm       ").append(s.kvm()).append('\n');
        b.append("  platform  ").append(s.platform()).append('\n');
        b.append("  memory    ").append(s.backend()).append('\n');
        b.append("  launch    ").append(s.launch().isEmpty() ? "-" : s.launch()).append('\n');
        digests(b, s);
        b.append('\n');
        b.append("Guest ended: ").append(s.end()).append(s.guestExitCode().isPresent() ? ", exit code " + s.guestExitCode().getAsInt() : "")
                .append(String.format(Locale.ROOT, " after %.3f s", s.ran().toNanos() / 1e9)).append('\n');

        b.append("\nConsole:\n");
        if (s.console().isEmpty()) b.append("  (nothing)\n");
        else s.console().lines().forEach(l -> b.append("  | ").append(l).append('\n'));

        b.append("\nvCPU exits:\n");
        for (RunSummary.VcpuSummary v : s.vcpus()) {
            b.append("  vcpu ").append(v.id()).append(" (").append(v.ending()).append("): ").append(v.totalExits()).append(" exits");
            if (!v.exits().isEmpty()) {
                b.append(" - ").append(v.exits().entrySet().stream().sorted(Map.Entry.comparingByKey())
                        .map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", ")));
            }
            b.append('\n');
        }

        b.append("\nConversions:\n");
        if (s.conversions().isEmpty()) b.append("  none\n");
        else {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"source", "direction", "requests", "done", "refused", "converted"});
            for (RunSummary.ConversionCount c : s.conversions())
                rows.add(new String[] {c.source(), c.direction(), String.valueOf(c.requests()), String.valueOf(c.done()),
                        String.valueOf(c.refused()), Sizes.format(c.bytes())});
            table(b, rows);
        }

        b.append("\nMemory at the end (per region):\n");
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"region", "gpa", "backend", "size", "private", "shared alloc", "shared resident",
                "private alloc", "private resident"});
        MemoryFigures total = MemoryFigures.ZERO;
        for (RunSummary.RegionFigures r : s.memory()) {
            MemoryFigures f = r.figures();
            total = total.plus(f);
            rows.add(new String[] {r.name(), Sizes.hex(r.gpa()), r.backend(), Sizes.format(f.size()), Sizes.format(f.privateBytes()),
                    Sizes.format(f.sharedAllocated()), Sizes.format(f.sharedResident()), Sizes.format(f.privateAllocated()),
                    Sizes.format(f.privateResident())});
        }
        if (s.memory().size() > 1)
            rows.add(new String[] {"total", "", "", Sizes.format(total.size()), Sizes.format(total.privateBytes()),
                    Sizes.format(total.sharedAllocated()), Sizes.format(total.sharedResident()), Sizes.format(total.privateAllocated()),
                    Sizes.format(total.privateResident())});
        table(b, rows);

        b.append('\n').append(verdict(s)).append('\n');
        return b.toString();
    }

    /** The firmware's launch digest beside the one computed ahead, and whether they are equal. */
    private static void digests(StringBuilder b, RunSummary s) {
        if (s.launchDigest().isEmpty() && s.expectedDigest().isEmpty()) {
            b.append("  digest    none (this platform measures nothing)\n");
            return;
        }
        b.append("  digest    ").append(s.launchDigest().isEmpty()
                ? "not known to the host (the firmware gives it only to the guest, in its attestation report)"
                : s.launchDigest() + " (launch digest, computed by the firmware)").append('\n');
        b.append("  expected  ").append(s.expectedDigest().isEmpty() ? "none computed" : s.expectedDigest()
                + " (computed ahead from the spec)").append('\n');
        if (!s.launchMeasurement().isEmpty() && !s.launchMeasurement().equalsIgnoreCase(s.launchDigest()))
            b.append("  launched  ").append(s.launchMeasurement()).append(" (reported by the platform's launch)").append('\n');
        b.append("  measured  ").append(s.digestMatches().map(equal -> equal
                ? "equal: the firmware measured what the spec predicts"
                : "DIFFERENT: the firmware measured something other than what the spec predicts; an attestation would fail")
                .orElse("nothing to compare")).append('\n');
    }

    static String verdict(RunSummary s) {
        String why = s.end() instanceof org.janus.machine.VmState.Stopped st ? st.reason()
                : s.end() instanceof org.janus.machine.VmState.Failed f ? f.reason() : s.end().toString();
        return "result: " + s.ending().word() + " - " + why;
    }

    private static void table(StringBuilder b, List<String[]> rows) {
        int[] width = new int[rows.get(0).length];
        for (String[] r : rows) for (int i = 0; i < r.length; i++) width[i] = Math.max(width[i], r[i].length());
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder("  ");
            for (int i = 0; i < r.length; i++) {
                line.append(r[i]);
                if (i < r.length - 1) line.append(" ".repeat(width[i] - r[i].length() + 2));
            }
            b.append(line.toString().stripTrailing()).append('\n');
        }
    }
}
