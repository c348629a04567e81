package org.janus.qmp.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.janus.machine.RegionMap;
import org.janus.machine.RunSummary;
import org.janus.machine.ServiceInfo;
import org.janus.machine.ServiceKind;
import org.janus.machine.SwapResult;
import org.janus.machine.VmManager;
import org.janus.machine.VmState;
import org.janus.machine.VmStatus;
import org.janus.memory.api.PageState;
import org.janus.memory.api.PageStateMap;
import org.janus.qmp.internal.Command.Type;

/**
 * The commands of Janus's QMP socket over one {@link VmManager}.
 *
 * <p>QEMU's commands keep QEMU's names, arguments and return shapes. One QEMU process is one VM; one Janus framework
 * runs several, so each of QEMU's commands that concerns a VM takes the downstream member {@value #VM_MEMBER} (a VM
 * id such as {@code vm-1}); without it the command addresses the only live VM, and is an error naming the VMs when
 * there are none or several. QEMU's return values are extended only with members named {@code __org.janus_*}, as
 * the QMP specification allows a downstream to do, so that a client written for QEMU sees QEMU's shapes.
 *
 * <p>{@code quit} differs by necessity: in QEMU it ends the process; here it stops the addressed VM (releasing
 * everything it holds, with a {@code SHUTDOWN} event whose reason is {@code host-qmp-quit}), and the framework goes
 * on serving the other VMs. A process that runs one VM ({@code janus run}) ends when that VM ends.
 *
 * <p>Janus's own commands carry the downstream prefix {@value #PREFIX} ({@code __RFQDN_} in the specification's
 * words, RFQDN being {@code org.janus}) and take a plain {@code vm} member.
 */
final class Commands {
    /** The prefix of Janus's own commands, events and members. */
    static final String PREFIX = "__org.janus_";
    /** The member that names the VM in QEMU's commands. */
    static final String VM_MEMBER = PREFIX + "vm";
    /** The QEMU release whose QMP shapes the commands follow (query-status still has {@code singlestep}). */
    static final int QEMU_MAJOR = 8;
    static final int QEMU_MINOR = 2;
    static final int QEMU_MICRO = 0;

    private final VmManager manager;
    private final String packageVersion;
    private final String target;
    private final Map<String, Command> table = new LinkedHashMap<>();
    /** VMs that {@code quit} is stopping or stopped: their SHUTDOWN says host-qmp-quit. */
    private final Set<String> quitting = ConcurrentHashMap.newKeySet();

    /**
     * @param packageVersion what the greeting and query-version report as the package, e.g. {@code janus 0.1.0}
     */
    Commands(VmManager manager, String packageVersion) {
        this.manager = manager;
        this.packageVersion = packageVersion;
        this.target = hostTarget();
        add(Command.named("qmp_capabilities").optional("enable", Type.STRING_LIST).does(this::capabilities));
        add(Command.named("query-version").does(a -> version()));
        add(Command.named("query-commands").does(a -> commandList()));
        add(Command.named("query-name").optional(VM_MEMBER, Type.STRING).does(this::name));
        add(Command.named("query-status").optional(VM_MEMBER, Type.STRING).does(this::status));
        add(Command.named("stop").optional(VM_MEMBER, Type.STRING).does(this::stop));
        add(Command.named("cont").optional(VM_MEMBER, Type.STRING).does(this::cont));
        add(Command.named("quit").optional(VM_MEMBER, Type.STRING).does(this::quit));
        add(Command.named("query-cpus-fast").optional(VM_MEMBER, Type.STRING).does(this::cpus));
        add(Command.named("query-memory-size-summary").optional(VM_MEMBER, Type.STRING).does(this::memorySize));
        add(Command.named(PREFIX + "query-vms").does(a -> vms()));
        add(Command.named(PREFIX + "query-memory-map").optional("vm", Type.STRING).optional("max-runs", Type.INT).does(this::memoryMap));
        add(Command.named(PREFIX + "query-conversions").optional("vm", Type.STRING).does(this::conversions));
        add(Command.named(PREFIX + "query-services").optional("kind", Type.STRING).does(this::services));
        add(Command.named(PREFIX + "swap").optional("vm", Type.STRING).required("kind", Type.STRING).optional("id", Type.STRING)
                .does(this::swap));
    }

    private void add(Command c) { table.put(c.name(), c); }

    Command find(String name) { return table.get(name); }

    List<String> names() { return List.copyOf(table.keySet()); }

    /** Whether {@code quit} asked for the end of this VM (then its SHUTDOWN is host-qmp-quit). */
    boolean quitAsked(String vm) { return quitting.contains(vm); }

    /** The greeting every connection starts with. */
    JsonObject greeting() {
        return Json.object("QMP", Json.object("version", version(), "capabilities", new JsonArray()));
    }

    // ---- QEMU's commands ----

    private JsonElement capabilities(Command.Args a) throws QmpError {
        for (String cap : a.strings("enable")) {
            if (cap.equals("oob")) throw QmpError.generic("Capability 'oob' not available");
            throw QmpError.generic("Parameter 'enable' does not accept value '" + cap + "'");
        }
        return new JsonObject();
    }

    private JsonObject version() {
        return Json.object("qemu", Json.object("major", QEMU_MAJOR, "minor", QEMU_MINOR, "micro", QEMU_MICRO),
                "package", packageVersion);
    }

    private JsonElement commandList() {
        List<JsonElement> out = new ArrayList<>();
        for (String n : table.keySet()) out.add(Json.object("name", n));
        return Json.array(out);
    }

    private JsonElement name(Command.Args a) throws QmpError {
        String vm = vm(a, VM_MEMBER);
        return Json.object("name", call(() -> manager.status(vm).name()));
    }

    private JsonElement status(Command.Args a) throws QmpError {
        String vm = vm(a, VM_MEMBER);
        VmState s = call(() -> manager.state(vm));
        return Json.object("running", s instanceof VmState.Running, "singlestep", false, "status", runState(s),
                VM_MEMBER, vm, PREFIX + "state", s.toString());
    }

    /** QEMU's {@code stop}: pauses a running VM; a VM already paused, or not started yet, stays as it is. */
    private JsonElement stop(Command.Args a) throws QmpError {
        String vm = vm(a, VM_MEMBER);
        VmState s = call(() -> manager.state(vm));
        if (s.isFinal()) throw QmpError.generic(vm + " has ended: " + s);
        if (s instanceof VmState.Running) call(() -> {
            manager.pause(vm);
            return null;
        });
        return new JsonObject();
    }

    /** QEMU's {@code cont}: starts a VM not started yet (prelaunch), resumes a paused one; a running one runs on. */
    private JsonElement cont(Command.Args a) throws QmpError {
        String vm = vm(a, VM_MEMBER);
        VmState s = call(() -> manager.state(vm));
        if (s.isFinal()) throw QmpError.generic(vm + " has ended (" + s + "); Janus does not restart VMs");
        call(() -> {
            if (s instanceof VmState.Created) manager.start(vm);
            else if (s instanceof VmState.Paused) manager.resume(vm);
            return null;
        });
        return new JsonObject();
    }

    /** Stops the addressed VM for good (see the class comment); a VM that has ended already is left as it is. */
    private JsonElement quit(Command.Args a) throws QmpError {
        String vm = vm(a, VM_MEMBER);
        if (call(() -> manager.state(vm)).isFinal()) return new JsonObject();
        quitting.add(vm);
        call(() -> manager.stop(vm));
        return new JsonObject();
    }

    private JsonElement cpus(Command.Args a) throws QmpError {
        String vm = vm(a, VM_MEMBER);
        VmStatus st = call(() -> manager.status(vm));
        List<JsonElement> out = new ArrayList<>();
        for (VmStatus.Vcpu c : st.vcpus()) {
            out.add(Json.object("cpu-index", c.id(), "qom-path", "/machine/janus/" + vm + "/vcpu[" + c.id() + "]",
                    "thread-id", c.thread(), "target", target, PREFIX + "phase", c.phase(), PREFIX + "exits", c.exits()));
        }
        return Json.array(out);
    }

    private JsonElement memorySize(Command.Args a) throws QmpError {
        String vm = vm(a, VM_MEMBER);
        VmStatus st = call(() -> manager.status(vm));
        return Json.object("base-memory", st.ramBytes(), "plugged-memory", 0, PREFIX + "private-memory", st.privateBytes());
    }

    // ---- Janus's commands ----

    private JsonElement vms() {
        List<JsonElement> out = new ArrayList<>();
        for (VmManager.VmInfo v : manager.list()) {
            out.add(Json.object("vm", v.id(), "name", v.name(), "platform", v.platform(), "status", runState(v.state()),
                    "running", v.state() instanceof VmState.Running, "state", v.state().toString()));
        }
        return Json.array(out);
    }

    private JsonElement memoryMap(Command.Args a) throws QmpError {
        String vm = vm(a, "vm");
        long maxRuns = a.integer("max-runs", 1024);
        if (maxRuns < 1 || maxRuns > 65536) throw QmpError.generic("Parameter 'max-runs' must be between 1 and 65536");
        List<RegionMap> map = call(() -> manager.memoryMap(vm));
        List<JsonElement> regions = new ArrayList<>();
        for (RegionMap r : map) {
            long priv = 0;
            List<JsonElement> runs = new ArrayList<>();
            for (PageStateMap.Run run : r.runs()) {
                if (run.state() == PageState.PRIVATE) priv += run.range().size();
                if (runs.size() < maxRuns)
                    runs.add(Json.object("gpa", run.range().start(), "size", run.range().size(), "state", word(run.state())));
            }
            regions.add(Json.object("name", r.name(), "gpa", r.gpa(), "size", r.size(), "backend", r.backend(),
                    "private-bytes", priv, "shared-bytes", r.size() - priv, "runs", Json.array(runs),
                    "runs-omitted", r.runs().size() - runs.size()));
        }
        return Json.object("vm", vm, "regions", Json.array(regions));
    }

    private JsonElement conversions(Command.Args a) throws QmpError {
        String vm = vm(a, "vm");
        VmStatus st = call(() -> manager.status(vm));
        List<JsonElement> counts = new ArrayList<>();
        for (RunSummary.ConversionCount c : st.conversions()) {
            counts.add(Json.object("source", c.source(), "direction", c.direction(), "requests", c.requests(), "done", c.done(),
                    "refused", c.refused(), "bytes", c.bytes()));
        }
        return Json.object("vm", vm, "status", runState(st.state()), "ram-bytes", st.ramBytes(), "private-bytes", st.privateBytes(),
                "done", st.conversionsDone(), "swaps", st.swaps(), "conversions", Json.array(counts));
    }

    private JsonElement services(Command.Args a) throws QmpError {
        ServiceKind kind = a.string("kind") == null ? null : kind(a.string("kind"));
        List<JsonElement> out = new ArrayList<>();
        for (ServiceInfo s : call(manager::services)) if (kind == null || s.kind() == kind) out.add(service(s));
        return Json.array(out);
    }

    private JsonElement swap(Command.Args a) throws QmpError {
        String vm = vm(a, "vm");
        ServiceKind kind = kind(a.string("kind"));
        SwapResult r = call(() -> manager.swap(vm, kind, a.string("id")));
        return Json.object("vm", r.vm(), "kind", r.kind().word(), "swapped", r.swapped(), "from", service(r.from()), "to", service(r.to()),
                "paused-ns", r.pausedNanos());
    }

    // ---- shared ----

    static JsonObject service(ServiceInfo s) {
        return Json.object("kind", s.kind().word(), "id", s.id(), "bundle", s.bundle(), "version", s.version(), "ranking", s.ranking(),
                "preferred", s.preferred(), "vms", Json.strings(s.vms()));
    }

    private static ServiceKind kind(String word) throws QmpError {
        for (ServiceKind k : ServiceKind.values()) if (k.word().equals(word)) return k;
        throw QmpError.generic("Parameter 'kind' does not accept value '" + word + "' (platform or backend)");
    }

    static String word(PageState s) { return s.name().toLowerCase(Locale.ROOT); }

    /** QEMU's RunState of a Janus VM state. */
    static String runState(VmState s) {
        if (s instanceof VmState.Created) return "prelaunch";
        if (s instanceof VmState.Running) return "running";
        if (s instanceof VmState.Paused) return "paused";
        if (s instanceof VmState.Stopped) return "shutdown";
        return "internal-error";
    }

    /**
     * The VM a command addresses: the one named by {@code member}, else the only live one.
     *
     * @throws QmpError naming the VMs when none or several are live, or the named one is unknown
     */
    String vm(Command.Args a, String member) throws QmpError {
        String named = a.string(member);
        if (named != null) {
            call(() -> manager.state(named));
            return named;
        }
        List<VmManager.VmInfo> all = call(manager::list);
        List<String> live = all.stream().filter(v -> !v.state().isFinal()).map(VmManager.VmInfo::id).toList();
        if (live.size() == 1) return live.get(0);
        if (live.isEmpty()) {
            List<String> ended = all.stream().map(VmManager.VmInfo::id).toList();
            throw QmpError.generic("no VM is live" + (ended.isEmpty() ? "" : " (ended: " + String.join(", ", ended) + ")")
                    + (ended.isEmpty() ? "" : "; name one with '" + member + "'"));
        }
        throw QmpError.generic(live.size() + " VMs are live (" + String.join(", ", live) + "); name one with '" + member + "'");
    }

    /** What a call into the manager may throw, as QMP errors; nothing was changed when it refuses. */
    interface ManagerCall<T> {
        T call();
    }

    static <T> T call(ManagerCall<T> c) throws QmpError {
        try {
            return c.call();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw QmpError.generic(e.getMessage());
        }
    }

    /** QEMU's SysEmuTarget of this host (Janus runs guests of the host's architecture). */
    private static String hostTarget() {
        String arch = System.getProperty("os.arch", "");
        return switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
    }
}
