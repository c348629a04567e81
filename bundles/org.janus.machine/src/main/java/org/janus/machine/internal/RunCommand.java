package org.janus.machine.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.janus.machine.MachineException;
import org.janus.machine.RunSummary;
import org.janus.machine.SpecException;
import org.janus.machine.VmManager;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code janus run SPEC.json} inside the framework: a {@code Function<List<String>, String>} registered with
 * {@code janus.command=run}, so that the launcher, which shares no classes with the bundles, calls it with JDK
 * types only. It creates the VM of the spec, runs it to its end and returns the summary, whose last line is the
 * verdict: {@value #RESULT_OK} when the guest ended normally, {@value #RESULT_FAILED} otherwise, and for a Linux
 * guest {@code result: reboot} or {@code result: panic} ({@link RunSummary.Ending}).
 *
 * <p>Arguments: {@code SPEC [--timeout SECONDS]}. A spec with problems throws {@link IllegalArgumentException}
 * listing each with its JSON path; a VM that cannot be built throws {@link IllegalStateException} naming the step.
 */
@Component(service = Function.class, property = {
    "janus.command=run",
    "janus.command.usage=" + RunCommand.USAGE
})
public final class RunCommand implements Function<List<String>, String> {
    static final String USAGE = "run SPEC.json [--timeout SECONDS]";
    /** The start of the summary's last line when the guest ended normally. */
    public static final String RESULT_OK = "result: ok";
    /** The start of the summary's last line otherwise. */
    public static final String RESULT_FAILED = "result: failed";
    /** How long registered services are waited for (bundles still starting). */
    static final Duration SERVICE_WAIT = Duration.ofSeconds(10);

    /** This bundle's own manager: the command needs its internals (problems of form and substance together). */
    @Reference(service = VmManager.class, target = "(component.name=org.janus.machine.internal.VmManagerImpl)")
    private VmManager service;
    private VmManagerImpl manager;

    public RunCommand() {}

    /** A command on a manager outside a framework. */
    public RunCommand(VmManagerImpl manager) { this.manager = manager; }

    @Activate
    void activate() { manager = (VmManagerImpl) service; }

    @Override public String apply(List<String> args) {
        Options o = Options.parse(args);
        String json;
        try {
            json = SpecReader.readFile(o.spec());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + o.spec() + ": " + e.getMessage(), e);
        }
        SpecReader.Result read = SpecReader.read(json, o.spec().toAbsolutePath().getParent());
        String id;
        try {
            manager.awaitServices(read.spec(), SERVICE_WAIT);
            id = manager.create(read);
        } catch (SpecException e) {
            // A Linux boot's one problem (no real KVM here, its images not fetched) is one line: the whole answer.
            if (e.problems().size() == 1 && e.problems().get(0).path().equals("$.boot"))
                throw new IllegalArgumentException(o.spec() + ": " + e.lines().get(0), e);
            throw new IllegalArgumentException(o.spec() + ": " + e.getMessage(), e);
        } catch (MachineException e) {
            throw new IllegalStateException(e.getMessage() + causes(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        manager.start(id);
        RunSummary summary;
        try {
            summary = manager.awaitEnd(id, o.timeout());
        } catch (TimeoutException e) {
            summary = manager.stop(id, "still running after " + o.timeout().toMillis() / 1000.0 + " s (--timeout); stopped");
        } catch (InterruptedException e) {
            manager.stop(id, "the run command was interrupted");
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted; " + id + " was stopped", e);
        }
        // Every installed platform and whether this VM's host could run it, before the verdict (the last line).
        String text = SummaryText.render(summary);
        String platforms = manager.kvmOf(id).map(k -> InstalledPlatforms.text(InstalledPlatforms.on(manager.directory(), k), k)).orElse("");
        int verdict = text.lastIndexOf('\n', text.length() - 2) + 1;
        return text.substring(0, verdict) + platforms + "\n" + text.substring(verdict);
    }

    private static String causes(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            if (c.getMessage() != null && !e.getMessage().contains(c.getMessage())) b.append("\n  caused by: ").append(c.getMessage());
        }
        return b.toString();
    }

    record Options(Path spec, Duration timeout) {
        static Options parse(List<String> args) {
            Path spec = null;
            Duration timeout = Duration.ofMinutes(10);
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                if (a.equals("--timeout")) {
                    if (i + 1 >= args.size()) throw new IllegalArgumentException("--timeout needs a number of seconds; usage: " + USAGE);
                    try {
                        double s = Double.parseDouble(args.get(++i));
                        if (!(s > 0)) throw new NumberFormatException();
                        timeout = Duration.ofMillis(Math.round(s * 1000));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--timeout " + args.get(i) + ": not a positive number of seconds");
                    }
                } else if (a.startsWith("--")) {
                    throw new IllegalArgumentException("unknown option " + a + "; usage: " + USAGE);
                } else if (spec == null) {
                    spec = Path.of(a);
                } else {
                    throw new IllegalArgumentException("one spec at a time (got " + spec + " and " + a + "); usage: " + USAGE);
                }
            }
            if (spec == null) throw new IllegalArgumentException("no spec given; usage: " + USAGE);
            return new Options(spec, timeout);
        }
    }
}
