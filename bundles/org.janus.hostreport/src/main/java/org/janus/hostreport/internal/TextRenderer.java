package org.janus.hostreport.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.janus.hostreport.HostReport;
import org.janus.hostreport.PlatformStrategy;
import org.janus.hostreport.VmTypeReport;
import org.janus.kvm.api.ArmSmccc;
import org.janus.kvm.api.GuestMemfdFlags;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.MemoryAttribute;

/** The report as aligned plain text; capability values in hex with their known bits named. */
final class TextRenderer {

    String render(HostReport report) {
        StringBuilder out = new StringBuilder();
        out.append("KVM provider   ").append(report.provider()).append('\n');
        out.append("description    ").append(report.description()).append('\n');
        out.append("API version    ").append(report.apiVersion())
                .append(report.apiVersion() == Kvm.API_VERSION ? "" : " (not 12: unusable)").append('\n');
        out.append("VM types       KVM_CAP_VM_TYPES=").append(HostProber.hex(report.vmTypesMask()));
        if (report.vmTypesMask() == 0) out.append(" (no capability: default type only)");
        if (report.armIpaSize() > 0) out.append(", arm64 IPA bits ").append(report.armIpaSize());
        out.append('\n');
        out.append("kernel build   ").append(report.kernelBuild()).append('\n');
        Map<String, String> diagnostics = new TreeMap<>(report.diagnostics());
        diagnostics.forEach((k, v) -> out.append("host           ").append(k).append('=').append(v).append('\n'));

        out.append("\nPer VM type (KVM_CHECK_EXTENSION on a VM of the type)\n");
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"VM type", "guest_memfd", "GUEST_MEMFD_FLAGS", "MEMORY_ATTRIBUTES",
            "GUEST_MEMFD_MEMORY_ATTRIBUTES", "EXIT_HYPERCALL"});
        for (VmTypeReport t : report.vmTypes()) {
            String name = t.name() + " (" + HostProber.hex(t.type()) + ")";
            if (!t.created()) {
                rows.add(new String[] {name, "not creatable: " + t.createError()});
                continue;
            }
            rows.add(new String[] {name, t.guestMemfd() > 0 ? "yes" : "no",
                flags(t.guestMemfdFlags()), attributes(t.memoryAttributes()),
                attributes(t.guestMemfdMemoryAttributes()), hypercalls(t.exitHypercall())});
        }
        table(out, rows);

        out.append("\nMemory strategy per platform\n");
        rows = new ArrayList<>();
        rows.add(new String[] {"platform", "VM type", "strategy", "why"});
        for (PlatformStrategy p : report.platforms()) {
            rows.add(new String[] {p.platform(), HostProber.hex(p.vmType()), p.strategy().label(), p.reason()});
        }
        table(out, rows);
        return out.toString();
    }

    private static String flags(long flags) {
        List<String> names = new ArrayList<>();
        if ((flags & GuestMemfdFlags.MMAP) != 0) names.add("MMAP");
        if ((flags & GuestMemfdFlags.INIT_SHARED) != 0) names.add("INIT_SHARED");
        return named(flags, names, GuestMemfdFlags.MMAP | GuestMemfdFlags.INIT_SHARED);
    }

    private static String attributes(long attributes) {
        return named(attributes, (attributes & MemoryAttribute.PRIVATE) != 0 ? List.of("PRIVATE") : List.of(),
                MemoryAttribute.PRIVATE);
    }

    private static String hypercalls(long mask) {
        long mapGpaRange = 1L << Hypercalls.KVM_HC_MAP_GPA_RANGE;
        // arm64 with pKVM: the SMCCC function numbers of MEM_SHARE and MEM_UNSHARE (x86 offers only bit 12).
        long share = 1L << ArmSmccc.KVM_FUNC_MEM_SHARE;
        long unshare = 1L << ArmSmccc.KVM_FUNC_MEM_UNSHARE;
        List<String> names = new ArrayList<>();
        if ((mask & share) != 0) names.add("MEM_SHARE");
        if ((mask & unshare) != 0) names.add("MEM_UNSHARE");
        if ((mask & mapGpaRange) != 0) names.add("MAP_GPA_RANGE");
        return named(mask, names, mapGpaRange | share | unshare);
    }

    private static String named(long value, List<String> names, long knownBits) {
        List<String> all = new ArrayList<>(names);
        if ((value & ~knownBits) != 0) all.add("?" + HostProber.hex(value & ~knownBits));
        return HostProber.hex(value) + (all.isEmpty() ? "" : " " + String.join("|", all));
    }

    /** Left-aligned columns; the last column of each row is not padded. */
    private static void table(StringBuilder out, List<String[]> rows) {
        int columns = rows.stream().mapToInt(r -> r.length).max().orElse(0);
        int[] width = new int[columns];
        for (String[] row : rows) {
            // A row's last cell is never padded, so it does not widen its column (a short row's error spans the rest).
            for (int i = 0; i < row.length - 1; i++) width[i] = Math.max(width[i], row[i].length());
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder("  ");
            for (int i = 0; i < row.length; i++) {
                line.append(row[i]);
                if (i < row.length - 1) line.append(" ".repeat(width[i] - row[i].length() + 2));
            }
            out.append(line.toString().stripTrailing()).append('\n');
        }
    }
}
