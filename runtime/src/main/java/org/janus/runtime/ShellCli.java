package org.janus.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code janus shell}: Janus with the Gogo shell on the terminal. */
@Command(name = "shell", description = {"Starts Janus with the Gogo shell (lb, scr:list, cm, ...); `exit 0` or the end of "
        + "input stops it."})
final class ShellCli implements Callable<Integer> {
    private final Cli cli;

    @Option(names = "--feature", paramLabel = "F", description = "Starts features/F.json too; may be repeated.")
    List<String> features = new ArrayList<>();

    ShellCli(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws LaunchException {
        // Gogo reads the terminal; at `exit` or end of input it stops the framework itself.
        return cli.runUntilStopped(Cli.features(Cli.BASE_FEATURES, Cli.features(features, List.of("shell"))), Map.of(), null);
    }
}
