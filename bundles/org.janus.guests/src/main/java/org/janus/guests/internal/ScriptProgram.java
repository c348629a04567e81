package org.janus.guests.internal;

import static org.janus.guests.internal.GuestOps.range;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.janus.guests.internal.GuestOps.Face;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.program.GuestCpu;
import org.janus.kvm.api.program.GuestProgram;
import org.janus.machine.GuestProgramContext;
import org.janus.machine.GuestProgramContext.AccessModel;
import org.janus.machine.SpecProblem;

/**
 * A guest program written in the spec: {@code guest.options.steps}, run in order on vCPU 0 (the other vCPUs halt at
 * once). Steps:
 * <ul>
 *   <li>{@code {"op":"convert","gpa":"0x100000","size":"2M","to":"private"}}: MAP_GPA_RANGE; optional
 *       {@code pageSize} (4K, 2M, 1G; default the largest the range is aligned to) and {@code expect} (ok, EINVAL,
 *       EAGAIN; default ok): the answer the guest must get. A conversion to private that succeeds is followed, as in a
 *       guest kernel, by taking the range into use where the hardware demands it: PVALIDATE on SEV-SNP,
 *       TDG.MEM.PAGE.ACCEPT on TDX (which zeroes the pages). A conversion to shared rescinds nothing: the host's
 *       conversion ends the guest's hold on the pages;</li>
 *   <li>{@code {"op":"write","gpa":...,"size":...,"pattern":"0xa5","access":"private|shared|auto"}}: fills the range
 *       with the byte; {@code auto} (the default) is a plain access, private and shared exist where the guest
 *       chooses per access (SEV-SNP, TDX);</li>
 *   <li>{@code {"op":"check","gpa":...,"size":...,"pattern":...,"access":...}}: every byte of the range must be the
 *       pattern, else the guest fails naming the step and the first byte that differs; with {@code "not": true} the
 *       range must not read the pattern throughout (what SEV-SNP and TDX show of contents across a conversion);</li>
 *   <li>{@code {"op":"out","port":...,"value":...,"size":1|2|4}}: port I/O (0x3f8 console, 0xf4 exit code);</li>
 *   <li>{@code {"op":"print","text":...}}: a console line;</li>
 *   <li>{@code {"op":"hlt"}}: halts the vCPU; it must be the last step.</li>
 * </ul>
 * Without a final hlt or exit, the program's end is a shutdown.
 */
final class ScriptProgram implements GuestProgram {
    /** The JSON path of the steps, for messages. */
    static final String STEPS_PATH = "$.guest.options.steps";
    /** How many bytes a write or check step handles per access. */
    private static final int BLOCK = 1 << 20;

    /** One step of a script. */
    sealed interface Step {
        /** Where it is in the spec, e.g. {@code steps[3]}. */
        String path();

        record Convert(String path, long gpa, long size, boolean toPrivate, long sizeCode, long expect) implements Step {}

        record Write(String path, long gpa, long size, int pattern, Face face) implements Step {}

        record Check(String path, long gpa, long size, int pattern, Face face, boolean not) implements Step {}

        record Out(String path, int port, int size, long value) implements Step {}

        record Print(String path, String text) implements Step {}

        record Hlt(String path) implements Step {}
    }

    static final List<String> OPS = List.of("check", "convert", "hlt", "out", "print", "write");
    private static final Map<String, Set<String>> FIELDS = Map.of(
            "convert", Set.of("op", "gpa", "size", "to", "pageSize", "expect"),
            "write", Set.of("op", "gpa", "size", "pattern", "access"),
            "check", Set.of("op", "gpa", "size", "pattern", "access", "not"),
            "out", Set.of("op", "port", "value", "size"),
            "print", Set.of("op", "text"),
            "hlt", Set.of("op"));

    /** The steps read from the options, and every problem (paths relative to {@code $.guest.options}). */
    record Parsed(List<Step> steps, List<SpecProblem> problems) {}

    private final GuestProgramContext context;
    private final List<Step> steps;

    ScriptProgram(GuestProgramContext context, List<Step> steps) {
        this.context = context;
        this.steps = List.copyOf(steps);
    }

    @Override public void run(GuestCpu cpu) {
        if (cpu.vcpuId() != 0) {
            cpu.hlt();
            return;
        }
        for (Step step : steps) {
            if (step instanceof Step.Convert c) convert(cpu, c);
            else if (step instanceof Step.Write w) write(cpu, w);
            else if (step instanceof Step.Check c) check(cpu, c);
            else if (step instanceof Step.Out o) cpu.out(o.port(), o.size(), o.value());
            else if (step instanceof Step.Print p) GuestOps.print(cpu, context, p.text());
            else cpu.hlt();
        }
    }

    private static String where(Step step) { return "script: " + STEPS_PATH + step.path().substring("steps".length()); }

    private void convert(GuestCpu cpu, Step.Convert c) {
        long ret = GuestOps.mapGpaRange(cpu, c.gpa(), c.size(), c.sizeCode(), c.toPrivate());
        if (ret != c.expect()) throw new IllegalStateException(where(c) + " convert " + range(c.gpa(), c.size()) + " to "
                + (c.toPrivate() ? "private" : "shared") + ": MAP_GPA_RANGE answered " + GuestOps.answerName(ret) + ", the script"
                + " expects " + GuestOps.answerName(c.expect()));
        if (ret == 0 && c.toPrivate()) GuestOps.takePrivate(cpu, context, c.gpa(), c.size(), where(c) + " convert");
    }

    private void write(GuestCpu cpu, Step.Write w) {
        for (long done = 0; done < w.size(); done += BLOCK) {
            byte[] block = new byte[(int) Math.min(BLOCK, w.size() - done)];
            Arrays.fill(block, (byte) w.pattern());
            GuestOps.write(cpu, w.face(), w.gpa() + done, block);
        }
    }

    private void check(GuestCpu cpu, Step.Check c) {
        if (c.not()) {
            checkNot(cpu, c);
            return;
        }
        for (long done = 0; done < c.size(); done += BLOCK) {
            byte[] got = GuestOps.read(cpu, c.face(), c.gpa() + done, (int) Math.min(BLOCK, c.size() - done));
            for (int i = 0; i < got.length; i++) {
                if ((got[i] & 0xff) != c.pattern()) throw new IllegalStateException(String.format("%s check %s for 0x%02x (%s access):"
                        + " the byte at 0x%x reads 0x%02x", where(c), range(c.gpa(), c.size()), c.pattern(),
                        c.face().name().toLowerCase(Locale.ROOT), c.gpa() + done + i, got[i] & 0xff));
            }
        }
    }

    private void checkNot(GuestCpu cpu, Step.Check c) {
        for (long done = 0; done < c.size(); done += BLOCK) {
            byte[] got = GuestOps.read(cpu, c.face(), c.gpa() + done, (int) Math.min(BLOCK, c.size() - done));
            for (byte b : got) if ((b & 0xff) != c.pattern()) return;
        }
        throw new IllegalStateException(String.format("%s check %s not 0x%02x (%s access): every byte reads 0x%02x", where(c),
                range(c.gpa(), c.size()), c.pattern(), c.face().name().toLowerCase(Locale.ROOT), c.pattern()));
    }

    // ---- reading the steps ----

    static Parsed parse(GuestProgramContext context) {
        List<SpecProblem> problems = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        Object value = context.options().get("steps");
        if (value == null) {
            problems.add(new SpecProblem("steps", "missing: the list of steps, e.g. [ {\"op\":\"convert\",\"gpa\":\"0x100000\","
                    + "\"size\":\"2M\",\"to\":\"private\"}, {\"op\":\"hlt\"} ]"));
            return new Parsed(steps, problems);
        }
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            problems.add(new SpecProblem("steps", "must be a non-empty list of steps (objects with an \"op\")"));
            return new Parsed(steps, problems);
        }
        for (int i = 0; i < list.size(); i++) {
            String path = "steps[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> raw)) {
                problems.add(new SpecProblem(path, "must be an object with an \"op\" (one of " + String.join(", ", OPS) + ")"));
                continue;
            }
            if (!steps.isEmpty() && steps.get(steps.size() - 1) instanceof Step.Hlt) {
                problems.add(new SpecProblem(path, "comes after hlt, which ends the vCPU: it would never run"));
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = (Map<String, Object>) raw;
            Step step = new StepReader(context, path, fields, problems).read();
            if (step != null) steps.add(step);
        }
        return new Parsed(steps, problems);
    }

    /** Reads one step, adding a problem for every field that is wrong. */
    private static final class StepReader {
        private final GuestProgramContext context;
        private final String path;
        private final Map<String, Object> fields;
        private final List<SpecProblem> problems;
        private final int before;

        StepReader(GuestProgramContext context, String path, Map<String, Object> fields, List<SpecProblem> problems) {
            this.context = context;
            this.path = path;
            this.fields = fields;
            this.problems = problems;
            this.before = problems.size();
        }

        private void problem(String field, String message) {
            problems.add(new SpecProblem(field == null ? path : path + "." + field, message));
        }

        private boolean ok() { return problems.size() == before; }

        Step read() {
            Object op = fields.get("op");
            if (op == null) {
                problem("op", "missing: one of " + String.join(", ", OPS));
                return null;
            }
            if (!(op instanceof String name) || !FIELDS.containsKey(name)) {
                problem("op", "unknown op '" + op + "'; known: " + String.join(", ", OPS));
                return null;
            }
            Set<String> known = FIELDS.get(name);
            for (String field : fields.keySet()) {
                if (!known.contains(field)) problem(field, "unknown field for '" + name + "'; known: " + String.join(", ", new TreeSet<>(known)));
            }
            Step step = switch (name) {
                case "convert" -> convert();
                case "write" -> {
                    long[] r = ramRange();
                    int pattern = pattern();
                    Face face = face();
                    yield ok() ? new Step.Write(path, r[0], r[1], pattern, face) : null;
                }
                case "check" -> {
                    long[] r = ramRange();
                    int pattern = pattern();
                    Face face = face();
                    Object not = fields.getOrDefault("not", Boolean.FALSE);
                    if (!(not instanceof Boolean)) problem("not", "must be true or false");
                    yield ok() ? new Step.Check(path, r[0], r[1], pattern, face, Boolean.TRUE.equals(not)) : null;
                }
                case "out" -> out();
                case "print" -> {
                    Object text = fields.get("text");
                    if (!(text instanceof String s)) {
                        problem("text", text == null ? "missing: the line to print" : "must be a string");
                        yield null;
                    }
                    if (!StandardCharsets.US_ASCII.newEncoder().canEncode(s)) problem("text", "must be ASCII (the console is a serial port)");
                    yield ok() ? new Step.Print(path, s) : null;
                }
                default -> new Step.Hlt(path);
            };
            return ok() ? step : null;
        }

        private Step convert() {
            if (context.access() == AccessModel.SHARED_ONLY) problem(null, "convert needs private memory, and a " + context.platform()
                    + " VM has none (KVM answers its MAP_GPA_RANGE itself, with -KVM_ENOSYS)");
            if (context.platform().equals("pkvm")) problem(null, "convert is MAP_GPA_RANGE, an x86 hypercall; a pkvm guest"
                    + " shares and unshares with MEM_SHARE and MEM_UNSHARE");
            Long gpa = size("gpa", true);
            Long size = size("size", true);
            if (size != null && size == 0) problem("size", "is zero");
            if (gpa != null && gpa % GuestOps.PAGE != 0) problem("gpa", GuestOptions.hex(gpa) + " is not 4 KiB aligned");
            if (size != null && size % GuestOps.PAGE != 0) problem("size", GuestOptions.hex(size) + " is not a multiple of 4 KiB");
            Object to = fields.get("to");
            boolean toPrivate = "private".equals(to);
            if (!"private".equals(to) && !"shared".equals(to))
                problem("to", to == null ? "missing: private or shared" : "'" + to + "' is not private or shared");
            long code = -1;
            Object pageSize = fields.get("pageSize");
            if (pageSize != null) {
                code = switch (String.valueOf(pageSize).toUpperCase(Locale.ROOT)) {
                    case "4K" -> Hypercalls.MAP_GPA_RANGE_PAGE_SZ_4K;
                    case "2M" -> Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M;
                    case "1G" -> Hypercalls.MAP_GPA_RANGE_PAGE_SZ_1G;
                    default -> {
                        problem("pageSize", "'" + pageSize + "' is not 4K, 2M or 1G");
                        yield -1;
                    }
                };
            }
            long expect = 0;
            Object e = fields.get("expect");
            if (e != null) {
                expect = switch (String.valueOf(e)) {
                    case "ok" -> 0;
                    case "EINVAL" -> Errno.EINVAL;
                    case "EAGAIN" -> Errno.EAGAIN;
                    default -> {
                        problem("expect", "'" + e + "' is not ok, EINVAL or EAGAIN");
                        yield 0;
                    }
                };
            }
            if (!ok()) return null;
            return new Step.Convert(path, gpa, size, toPrivate, code >= 0 ? code : GuestOps.pageSizeCode(gpa, size), expect);
        }

        /** gpa and size of a write or check: inside one RAM region. */
        private long[] ramRange() {
            Long gpa = size("gpa", true);
            Long size = size("size", true);
            if (size != null && size == 0) problem("size", "is zero");
            if (gpa != null && size != null && size > 0 && !GuestOps.inRam(context.ram(), gpa, size))
                problem(null, range(gpa, size) + " is not inside one RAM region");
            return new long[] {gpa == null ? 0 : gpa, size == null ? 0 : size};
        }

        private int pattern() {
            Long p = size("pattern", true);
            if (p != null && p > 0xff) problem("pattern", GuestOptions.hex(p) + " is not a byte (0 to 0xff)");
            return p == null ? 0 : (int) (long) p;
        }

        private Face face() {
            Object a = fields.getOrDefault("access", "auto");
            Face face = switch (String.valueOf(a)) {
                case "private" -> Face.PRIVATE;
                case "shared" -> Face.SHARED;
                case "auto" -> Face.AUTO;
                default -> null;
            };
            if (face == null) {
                problem("access", "'" + a + "' is not private, shared or auto");
                return Face.AUTO;
            }
            if (face != Face.AUTO && context.access() != AccessModel.GUEST_CHOSEN)
                problem("access", "a " + context.platform() + " guest cannot choose private or shared per access (" + (context.access()
                        == AccessModel.KVM_DERIVED ? "KVM takes it from the page's state" : "it has no private memory") + "); use auto");
            return face;
        }

        private Step out() {
            Long port = size("port", true);
            Long value = size("value", true);
            Long size = size("size", false);
            int bytes = size == null ? 1 : (int) (long) size;
            if (bytes != 1 && bytes != 2 && bytes != 4) problem("size", size + " is not 1, 2 or 4 bytes");
            if (port != null && port > 0xffff) problem("port", GuestOptions.hex(port) + " is not a 16-bit port");
            if (value != null && bytes < 8 && value >>> (8 * bytes) != 0) problem("value", GuestOptions.hex(value) + " does not fit in " + bytes
                    + (bytes == 1 ? " byte" : " bytes"));
            return ok() ? new Step.Out(path, (int) (long) port, bytes, value) : null;
        }

        /** A number or size field; null after a problem (or when absent and optional). */
        private Long size(String field, boolean required) {
            Object v = fields.get(field);
            if (v == null) {
                if (required) problem(field, "missing");
                return null;
            }
            try {
                return GuestOptions.parseSize(v);
            } catch (IllegalArgumentException e) {
                problem(field, e.getMessage());
                return null;
            }
        }
    }
}
