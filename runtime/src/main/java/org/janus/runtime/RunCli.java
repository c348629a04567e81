package org.janus.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code janus run SPEC.json}: boots the framework with the machine feature, waits for the
 * {@code janus.command=run} service, hands it the spec, and prints the summary it returns when the VM has ended.
 *
 * <p>The launcher shares no classes with the bundles: the command is a {@code Function<List<String>, String>}.
 * Its summary's last line is the verdict, {@value #RESULT_OK} when the guest ended normally. It throws
 * {@link IllegalArgumentException} for a spec with problems (each listed with its JSON path) and
 * {@link IllegalStateException} for a VM that could not be built.
 *
 * <p>Exit codes: 0 the guest ended normally (a Linux guest: it powered off with exit code 0); 1 it did not (or the
 * VM could not be built or run); 2 a bad command line or a spec with problems; 3 a Linux guest rebooted (i8042 reset
 * or triple fault: Janus does not reset VMs); 4 a Linux guest panicked (it boots with {@code panic=-1}, so a panic
 * resets at once; Janus tells it from a reboot by the kernel's "Kernel panic - not syncing" line on the console
 * just before the reset).
 */
@Command(name = "run", description = {
    "Builds the VM a machine spec describes (examples/ has some), runs it to its end and prints what happened: how the "
            + "guest ended, exits per vCPU, conversions, memory per region, the launch digest the firmware computed "
            + "beside the one expected from the spec, console output.",
    "Exit code 0 when the guest ended normally (all vCPUs halted, a shutdown, or exit code 0 on port 0xf4, which is "
            + "how a Linux guest powers off), 1 when it did not or the VM could not be built, 2 for a bad command line or a "
            + "spec with problems (each named with its JSON path), 3 when a Linux guest rebooted (i8042 reset or triple "
            + "fault), 4 when it panicked (told from a reboot by \"Kernel panic - not syncing\" on its console right "
            + "before the reset; boot it with panic=-1). Starts the machine feature too."})
final class RunCli implements Callable<Integer> {
    /** The start of the summary's last line when the guest ended normally (the machine's RunCommand.RESULT_OK). */
    static final String RESULT_OK = "result: ok";
    /** The verdicts of a Linux guest that reset, and their exit codes (the machine's RunSummary.Ending). */
    static final String RESULT_REBOOT = "result: reboot";
    static final String RESULT_PANIC = "result: panic";
    static final int GUEST_REBOOTED = 3;
    static final int GUEST_PANICKED = 4;
    static final String MACHINE_BUNDLE = "org.janus.machine, feature machine";
    static final List<String> FEATURES = List.of("core", "sim", "linux", "machine");
    /** How long the machine's command may take to register once its bundles have started. */
    static final long COMMAND_WAIT_MS = 20_000;

    private final Cli cli;

    @Parameters(arity = "0..*", paramLabel = "SPEC.json", description = "The machine spec.")
    List<String> specs = new ArrayList<>();

    @Option(names = "--timeout", paramLabel = "S", converter = Seconds.Converter.class,
            description = "Seconds the guest may run before it is stopped (default 600).")
    Seconds timeout;

    @Option(names = "--feature", paramLabel = "F", description = "Starts features/F.json too; may be repeated.")
    List<String> features = new ArrayList<>();

    @Option(names = "--qmp", paramLabel = "PATH", description = "Adds the qmp feature, whose QMP socket is created at PATH "
            + "(its directory must exist) before the VM is.")
    String qmp;

    @Spec
    CommandSpec spec;

    RunCli(Cli cli) {
        this.cli = cli;
    }

    /** The one spec named, as an absolute path; usage errors when there is none, more than one, or no such file. */
    static Path specFile(List<String> specs, CommandLine command, String example) {
        if (specs.isEmpty()) throw new ParameterException(command, "which spec? e.g. janus " + command.getCommandName() + " " + example);
        if (specs.size() > 1) throw new ParameterException(command, "one spec at a time (got " + String.join(" and ", specs) + ")");
        Path file = Path.of(specs.get(0)).toAbsolutePath().normalize();
        if (!Files.isRegularFile(file)) throw new ParameterException(command, file + " is not a file");
        return file;
    }

    /** The arguments the in-framework command understands. */
    List<String> commandArguments(Path specFile) {
        List<String> a = new ArrayList<>(List.of(specFile.toString()));
        if (timeout != null) a.addAll(List.of("--timeout", timeout.text()));
        return a;
    }

    @Override
    public Integer call() throws LaunchException {
        Path specFile = specFile(specs, spec.commandLine(), "examples/plain.json");
        QmpSocket socket = QmpSocket.of(qmp, spec.commandLine(), cli.launcher);
        List<String> all = Cli.features(FEATURES, features);
        if (socket != null) all = socket.addFeature(cli.launcher, all);

        try (RunningFramework framework = RunningFramework.start(cli.launcher, all, cli.err)) {
            BundleContext context = framework.context();
            if (socket != null) socket.configure(new ConfigAdminClient(context));
            ServiceReference<?> command = CommandServices.await(context, "run", MACHINE_BUNDLE, COMMAND_WAIT_MS);
            return call(context, command, specFile);
        }
    }

    private int call(BundleContext context, ServiceReference<?> reference, Path specFile) throws LaunchException {
        try {
            String summary = CommandServices.apply(context, reference, "run", commandArguments(specFile));
            cli.out.print(summary.endsWith("\n") ? summary : summary + "\n");
            cli.out.flush();
            String verdict = lastLine(summary);
            if (verdict.startsWith(RESULT_OK)) return Cli.OK;
            cli.fail("run: the guest did not end normally (" + verdict + ")", null);
            if (verdict.startsWith(RESULT_REBOOT)) return GUEST_REBOOTED;
            if (verdict.startsWith(RESULT_PANIC)) return GUEST_PANICKED;
            return Cli.FAILED;
        } catch (IllegalArgumentException e) {
            cli.fail("run: " + e.getMessage(), e);
            return Cli.USAGE;
        } catch (IllegalStateException e) {
            cli.fail("run: " + e.getMessage(), e);
            return Cli.FAILED;
        }
    }

    private static String lastLine(String text) {
        List<String> lines = text.strip().lines().toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }
}
