package org.janus.runtime;

import java.io.File;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;

/**
 * The software KVM's configuration, Config Admin PID {@code org.janus.kvm.sim}, kept in {@code conf/org.janus.kvm.sim.cfg}
 * so that later runs keep it. The launcher writes the file before the framework starts, so that FileInstall, whenever
 * its first scan comes, can only apply the new values; once the framework runs, {@link #apply} gives Config Admin the
 * same properties itself, so that the change does not wait for that scan. The two are equal property for property,
 * FileInstall's file name included, so whichever comes second changes nothing.
 */
final class SimConfiguration {
    static final String PID = "org.janus.kvm.sim";
    static final String PROFILE = "profile";
    static final String HARDWARE = "hardware";

    private final Path file;

    SimConfiguration(Path confDirectory) {
        this.file = confDirectory.resolve(PID + ".cfg");
    }

    Path file() { return file; }

    boolean exists() { return Files.isRegularFile(file); }

    /** The {@code profile} and {@code hardware} the file sets (either may be absent). */
    Map<String, String> read() throws LaunchException {
        Map<String, String> values = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) return values;
        Properties p = load();
        for (String key : new String[] {PROFILE, HARDWARE}) {
            String v = p.getProperty(key);
            if (v != null && !v.isBlank()) values.put(key, v.trim());
        }
        return values;
    }

    /**
     * Sets the given keys (null values are left alone), keeping every other property of the file.
     *
     * @return the file's previous content, null if there was no file; for {@link #restore(String)}
     */
    String update(String profile, String hardware) throws LaunchException {
        String previous;
        try {
            previous = Files.isRegularFile(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : null;
        } catch (IOException e) {
            throw new LaunchException("cannot read " + file + ": " + e.getMessage(), e);
        }
        Properties p = previous != null ? load() : new Properties();
        if (profile != null) p.setProperty(PROFILE, profile);
        if (hardware != null) p.setProperty(HARDWARE, hardware);
        StringBuilder text = new StringBuilder("# The software KVM (Config Admin PID " + PID + "), read by FileInstall.\n"
                + "# Last written by `janus host-report --profile/--hardware`; edit freely.\n");
        try {
            // Properties.store escapes what needs escaping; its date comment is dropped and the lines sorted.
            StringWriter stored = new StringWriter();
            p.store(stored, null);
            new TreeSet<>(stored.toString().lines().filter(l -> !l.startsWith("#")).toList())
                    .forEach(l -> text.append(l).append('\n'));
        } catch (IOException e) {
            throw new LaunchException("cannot write " + file + ": " + e.getMessage(), e);
        }
        write(text.toString());
        return previous;
    }

    /**
     * Gives Config Admin the file's properties, as FileInstall would: every property of the file, and the file it
     * came from under FileInstall's own key, so that FileInstall recognises the configuration as the file's and finds
     * nothing to change.
     *
     * @return whether Config Admin's configuration changed
     */
    boolean apply(ConfigAdminClient configAdmin) throws LaunchException {
        Properties p = load();
        Map<String, Object> properties = new LinkedHashMap<>();
        for (String key : p.stringPropertyNames()) properties.put(key, p.getProperty(key));
        properties.put(ConfigAdminClient.FILEINSTALL_FILENAME, fileInstallKey());
        return configAdmin.update(PID, properties);
    }

    /**
     * The file as FileInstall names it in {@value ConfigAdminClient#FILEINSTALL_FILENAME}: the {@code file:} URI of
     * the file in the canonical form of the watched directory.
     */
    String fileInstallKey() throws LaunchException {
        try {
            return new File(file.getParent().toFile().getCanonicalFile(), file.getFileName().toString()).toURI().toString();
        } catch (IOException e) {
            throw new LaunchException("cannot resolve " + file.getParent() + ": " + e.getMessage(), e);
        }
    }

    /** Puts back what {@link #update} replaced: the old content, or no file if {@code previous} is null. */
    void restore(String previous) throws LaunchException {
        if (previous != null) {
            write(previous);
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new LaunchException("cannot delete " + file + ": " + e.getMessage(), e);
        }
    }

    private void write(String text) throws LaunchException {
        try {
            Files.createDirectories(file.getParent());
            // FileInstall polls the directory: it must never see a half-written file.
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.ISO_8859_1)) {
                out.write(text);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new LaunchException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private Properties load() throws LaunchException {
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
            p.load(in);
        } catch (IOException e) {
            throw new LaunchException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return p;
    }
}
