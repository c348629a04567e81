package org.janus.runtime;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code janus help [COMMAND]}: the usage of every command, or of the one named, on standard output. */
@Command(name = "help", description = {"Prints the usage of every command, or of the one named."})
final class HelpCli implements Callable<Integer> {
    private final Cli cli;

    @Parameters(arity = "0..1", paramLabel = "COMMAND", description = "The command whose usage to print.")
    String command;

    @Spec
    CommandSpec spec;

    HelpCli(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        CommandLine janus = spec.commandLine().getParent();
        if (command != null) {
            CommandLine one = janus.getSubcommands().get(command);
            if (one == null) throw new ParameterException(spec.commandLine(), "unknown command " + command);
            cli.out.print(one.getUsageMessage());
        } else {
            cli.out.print(janus.getUsageMessage());
            for (CommandLine each : janus.getSubcommands().values()) {
                if (each == spec.commandLine()) continue;
                cli.out.println();
                cli.out.print(each.getUsageMessage());
            }
        }
        cli.out.flush();
        return Cli.OK;
    }
}
