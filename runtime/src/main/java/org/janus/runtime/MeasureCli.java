package org.janus.runtime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code janus measure SPEC.json}: boots the framework with the machine feature, hands the spec to the
 * {@code janus.command=measure} service and prints the expected launch digest it computes, without building a VM.
 * The command is a {@code Function<List<String>, String>}, as for {@link RunCli}.
 *
 * <p>Exit codes: 0 the digest was printed; 1 the platform measures nothing or the digest cannot be computed; 2 a bad
 * command line or a spec with problems (each named with its JSON path).
 */
@Command(name = "measure", description = {
    "Prints the launch digest the VM of a machine spec will have (for SEV-SNP, the measurement of its OVMF image, vCPU "
            + "count and model), computed from the spec alone without building anything: what an attestation report "
            + "of that VM must carry.",
    "Exit code 0 when printed, 1 when the platform measures nothing or the digest cannot be computed, 2 for a spec "
            + "with problems."})
final class MeasureCli implements Callable<Integer> {
    private final Cli cli;

    @Parameters(arity = "0..*", paramLabel = "SPEC.json", description = "The machine spec.")
    List<String> specs = new ArrayList<>();

    @Spec
    CommandSpec spec;

    MeasureCli(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws LaunchException {
        Path specFile = RunCli.specFile(specs, spec.commandLine(), "examples/snp-inplace.json");
        try (RunningFramework framework = RunningFramework.start(cli.launcher, RunCli.FEATURES, cli.err)) {
            BundleContext context = framework.context();
            ServiceReference<?> reference = CommandServices.await(context, "measure", RunCli.MACHINE_BUNDLE, RunCli.COMMAND_WAIT_MS);
            return call(context, reference, specFile);
        }
    }

    private int call(BundleContext context, ServiceReference<?> reference, Path specFile) throws LaunchException {
        try {
            String text = CommandServices.apply(context, reference, "measure", List.of(specFile.toString()));
            cli.out.print(text.endsWith("\n") ? text : text + "\n");
            cli.out.flush();
            return Cli.OK;
        } catch (IllegalArgumentException e) {
            cli.fail("measure: " + e.getMessage(), e);
            return Cli.USAGE;
        } catch (IllegalStateException e) {
            cli.fail("measure: " + e.getMessage(), e);
            return Cli.FAILED;
        }
    }
}
