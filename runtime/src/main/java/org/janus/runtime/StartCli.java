package org.janus.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code janus start}: Janus running until stopped. */
@Command(name = "start", description = {"Starts Janus and runs until stopped (SIGTERM or Ctrl-C)."})
final class StartCli implements Callable<Integer> {
    private final Cli cli;

    @Option(names = "--feature", paramLabel = "F", description = "Starts features/F.json too; may be repeated.")
    List<String> features = new ArrayList<>();

    @Option(names = "--qmp", paramLabel = "PATH", description = "Adds the qmp feature (and machine, whose VMs it serves), "
            + "with its QMP socket at PATH; the directory must exist.")
    String qmp;

    @Spec
    CommandSpec spec;

    StartCli(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws LaunchException {
        QmpSocket socket = QmpSocket.of(qmp, spec.commandLine(), cli.launcher);
        List<String> all = Cli.features(Cli.BASE_FEATURES, features);
        if (socket != null) all = socket.addFeature(cli.launcher, all);
        // Should the shell feature be added, Gogo must not read stdin, or end of input would stop everything.
        return cli.runUntilStopped(all, Map.of("gosh.args", "--nointeractive"), socket);
    }
}
