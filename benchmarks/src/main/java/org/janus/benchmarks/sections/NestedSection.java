package org.janus.benchmarks.sections;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.janus.benchmarks.report.Goal;
import org.janus.benchmarks.report.Report;
import org.janus.benchmarks.report.ReportContext;
import org.janus.benchmarks.report.Section;

/** itests/nested-kvm/run-benchmarks.sh: the conversion benchmark on the real 7.3 kernel's KVM, nested under TCG. */
public final class NestedSection implements Section {
    public static final String FILE = "nested-conversion.json";
    public static final String FLOOR_DISCARD = "nested-floor-legacy-discard.json";
    public static final String FLOOR_KEEP = "nested-floor-legacy-keep.json";

    @Override public String title() { return "Real KVM, nested under QEMU TCG: a functional figure"; }

    @Override public List<String> inputs() { return List.of(FILE, FLOOR_DISCARD, FLOOR_KEEP); }

    @Override public List<String> goals() { return List.of("real KVM (nested): 4K conversion, legacy with discard, beside the floor"); }

    @Override public Rendered render(ReportContext c) throws IOException {
        JsonObject r = c.json(FILE).getAsJsonObject();
        JsonObject discard = c.json(FLOOR_DISCARD).getAsJsonObject();
        JsonObject keep = c.json(FLOOR_KEEP).getAsJsonObject();
        StringBuilder md = new StringBuilder();
        md.append("**An emulated machine: these figures are not comparable with the software KVM's, nor with a real host's.** ")
                .append("`itests/nested-kvm/run-benchmarks.sh` boots the nested environment (Debian's ").append(r.get("kernel").getAsString())
                .append(" kernel with its kvm modules rebuilt with `CONFIG_KVM_SW_PROTECTED_VM`, under QEMU TCG with emulated SVM, ")
                .append(r.get("kvmModule").getAsString()).append(", VM types 0x").append(Long.toHexString(r.get("vmTypes").getAsLong()))
                .append("; docs/testing.md) and runs, in that one guest, `org.janus.benchmarks.nested.NestedConversion` and the ")
                .append("conversion benchmark's C floor (`conversion_floor.c`, built on the host with gcc). A real-mode guest of a ")
                .append("software-protected VM converts one 4 KiB page to private and back ").append(r.get("rounds").getAsInt())
                .append(" times with `KVM_HC_MAP_GPA_RANGE` and writes into it after each conversion; Janus's conversion engine with a ")
                .append("real memory backend answers each hypercall, as the vCPU loop does. **Janus** is the engine and backend plus ")
                .append("completing the hypercall (VM attributes with `KVM_SET_MEMORY_ATTRIBUTES`, the discard); the **cycle** is one ")
                .append("conversion exit to the next (Janus, re-entry, the guest's write faulting the new page in, the exit). The ")
                .append("**floor** is the C program's legacy modes in the same guest: `fallocate(PUNCH_HOLE)` of the face the page left ")
                .append("(discard only) and the write faulting the new page in, without KVM: it has no attribute ioctl and no exit. ")
                .append("**Kernel calls only** runs the same guest and exit loop with Janus taken out: each hypercall answered by the ")
                .append("legacy conversion's kernel calls made directly from Java (`KVM_SET_MEMORY_ATTRIBUTES`, the hole punch, ")
                .append("completing the hypercall), so Janus's part minus the calls' is what Janus adds here. ")
                .append("A bare port-I/O exit and re-entry costs ").append(Report.num(r.getAsJsonObject("exitRoundTrip").get("p50").getAsDouble(), 1))
                .append(" µs (p50) here.\n\n");
        md.append("| | conversions | p50 µs | p90 µs | p99 µs | max µs |\n|---|---:|---:|---:|---:|---:|\n");
        List<Goal> goals = new ArrayList<>();
        String inPlace = "";
        JsonObject janusDiscard = null;
        JsonObject kernelCalls = null;
        for (JsonElement e : r.getAsJsonArray("backends")) {
            JsonObject b = e.getAsJsonObject();
            String name = b.get("backend").getAsString();
            if (!b.get("usable").getAsBoolean()) {
                inPlace += name + ": not on this kernel (" + b.get("reason").getAsString() + "). ";
                continue;
            }
            boolean direct = name.startsWith("kernel calls only");
            row(md, name + (direct ? ": the calls" : ": Janus"), b.getAsJsonObject("janus"));
            row(md, name + ": cycle", b.getAsJsonObject("cycle"));
            if (name.equals("legacy, discard")) janusDiscard = b;
            if (direct) kernelCalls = b;
        }
        if (janusDiscard != null) {
            double janus = janusDiscard.getAsJsonObject("janus").get("p50").getAsDouble();
            double floor = discard.getAsJsonObject("total").get("p50").getAsDouble() / 1e3;
            String calls = kernelCalls == null ? "" : ", the same kernel calls made directly p50 "
                    + Report.num(kernelCalls.getAsJsonObject("janus").get("p50").getAsDouble(), 1) + " µs";
            goals.add(new Goal(goals().get(0), "shown (emulated)", "Janus p50 " + Report.num(janus, 1) + " µs" + calls + ", cycle p50 "
                    + Report.num(janusDiscard.getAsJsonObject("cycle").get("p50").getAsDouble(), 1) + " µs, floor p50 " + Report.num(floor, 1) + " µs",
                    Goal.Status.SHOWN, ""));
        }
        floorRow(md, "floor, legacy with discard (op + touch)", discard);
        floorRow(md, "floor, legacy without discard (touch)", keep);
        md.append('\n');
        if (!inPlace.isEmpty()) md.append(inPlace).append("\n\n");
        if (c.smoke()) md.append("_Smoke run: few conversions._\n\n");
        return new Rendered(md.toString(), goals);
    }

    private static void row(StringBuilder md, String what, JsonObject s) {
        md.append("| ").append(what).append(" | ").append(s.get("count").getAsInt()).append(" | ").append(Report.num(s.get("p50").getAsDouble(), 1))
                .append(" | ").append(Report.num(s.get("p90").getAsDouble(), 1)).append(" | ").append(Report.num(s.get("p99").getAsDouble(), 1))
                .append(" | ").append(Report.num(s.get("max").getAsDouble(), 1)).append(" |\n");
    }

    private static void floorRow(StringBuilder md, String what, JsonObject f) {
        JsonObject t = f.getAsJsonObject("total");
        md.append("| ").append(what).append(" | ").append(f.get("conversions").getAsLong()).append(" | ").append(Report.num(t.get("p50").getAsDouble() / 1e3, 1))
                .append(" | | ").append(Report.num(t.get("p99").getAsDouble() / 1e3, 1)).append(" | ").append(Report.num(t.get("max").getAsDouble() / 1e3, 1)).append(" |\n");
    }
}
