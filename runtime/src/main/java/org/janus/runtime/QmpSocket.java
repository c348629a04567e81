package org.janus.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * {@code --qmp PATH} of run and start: the QMP socket the {@code org.janus.qmp} bundle (feature {@value #FEATURE})
 * creates, configured through Config Admin (PID {@value #PID}, property {@value #SOCKET}) for this run only. Unlike
 * the sim's choice, nothing is written to conf/: a later run without --qmp has no socket.
 */
final class QmpSocket {
    static final String FEATURE = "qmp";
    static final String PID = "org.janus.qmp";
    static final String SOCKET = "socket";

    private final Path path;

    private QmpSocket(Path path) {
        this.path = path;
    }

    Path path() { return path; }

    /**
     * The socket for the option's value, made absolute against the working directory, whose directory must exist.
     * A standing configuration in conf/ would be applied by FileInstall at a moment of its choosing, before or after
     * this one, so the two together are refused rather than raced.
     *
     * @param option null when the option was not given
     * @return null when the option was not given
     * @throws ParameterException naming what is wrong
     */
    static QmpSocket of(String option, CommandLine command, Launcher launcher) {
        if (option == null) return null;
        if (option.isBlank()) throw new ParameterException(command, "--qmp needs the path of the socket to create");
        Path socket = Path.of(option).toAbsolutePath().normalize();
        Path directory = socket.getParent();
        if (directory == null || !Files.isDirectory(directory)) {
            throw new ParameterException(command, "--qmp " + option + ": the directory " + directory + " does not exist");
        }
        if (Files.isDirectory(socket)) throw new ParameterException(command, "--qmp " + option + ": " + socket + " is a directory");
        for (String extension : List.of(".cfg", ".config")) {
            Path standing = launcher.conf().resolve(PID + extension);
            if (Files.exists(standing)) {
                throw new ParameterException(command, "--qmp " + option + ": " + standing
                        + " configures QMP already; remove it, or leave out --qmp");
            }
        }
        return new QmpSocket(socket);
    }

    /**
     * The features with qmp added, once it is known to be installed, and machine before it: QMP serves the machine's
     * VMs, and its bundle does not resolve without the machine's.
     */
    List<String> addFeature(Launcher launcher, List<String> features) throws LaunchException {
        if (!Files.isRegularFile(launcher.features().resolve(FEATURE + ".json"))) {
            throw new LaunchException("--qmp: the qmp feature is not installed (" + launcher.features().resolve(FEATURE + ".json")
                    + " does not exist)");
        }
        return Cli.features(features, List.of("machine", FEATURE));
    }

    /** Gives the QMP bundle its socket through Config Admin. */
    void configure(ConfigAdminClient configAdmin) throws LaunchException {
        configAdmin.update(PID, Map.of(SOCKET, path.toString()));
    }
}
