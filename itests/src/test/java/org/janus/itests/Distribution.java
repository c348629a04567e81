package org.janus.itests;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The packaged distribution (runtime/target/janus), copied so that a test may change its conf/ freely. */
final class Distribution {
    /** What a run of bin/janus printed and returned. */
    record Run(int exitCode, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private final Path home;

    private Distribution(Path home) {
        this.home = home;
    }

    /** A fresh copy of the built distribution at {@code target/<name>}. */
    static Distribution copy(String name) throws IOException {
        Path built = Path.of(System.getProperty("janus.dist", "../runtime/target/janus"));
        assertTrue(Files.isExecutable(built.resolve("bin/janus")),
                built + "/bin/janus is missing: the runtime module builds it (mvn -pl itests -am verify)");
        Path copy = Path.of("target", name).toAbsolutePath();
        delete(copy);
        copyTree(built, copy);
        return new Distribution(copy);
    }

    static Distribution at(Path home) {
        return new Distribution(home);
    }

    Path home() {
        return home;
    }

    /** Runs bin/janus with the JDK running the tests, and waits at most 90 s. */
    Run janus(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(home.resolve("bin/janus").toString());
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(home.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("JAVA");
        pb.environment().remove("JAVA_OPTS");
        Path stdout = Files.createTempFile(Path.of("target"), "janus", ".out");
        Path stderr = Files.createTempFile(Path.of("target"), "janus", ".err");
        pb.redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE);
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("bin/janus " + String.join(" ", args) + " still running after 90 s");
        }
        Run run = new Run(p.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8),
                Files.readString(stderr, StandardCharsets.UTF_8));
        Files.delete(stdout);
        Files.delete(stderr);
        return run;
    }

    /**
     * Starts bin/janus without waiting for it, its output going to {@code target/<name>.out} and {@code .err}; for
     * commands that run until stopped.
     */
    Process start(String name, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(home.resolve("bin/janus").toString());
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(home.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("JAVA");
        pb.environment().remove("JAVA_OPTS");
        pb.redirectOutput(Path.of("target", name + ".out").toFile()).redirectError(Path.of("target", name + ".err").toFile());
        Process p = pb.start();
        p.getOutputStream().close();
        return p;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (dir.getFileName().toString().equals("cache") && dir.getParent().equals(from)) return FileVisitResult.SKIP_SUBTREE;
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
