package org.janus.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimConfigurationTest {

    @Test
    void noFileMeansNothingExpected(@TempDir Path conf) throws Exception {
        assertEquals(Map.of(), new SimConfiguration(conf).read());
    }

    @Test
    void updateWritesAPropertiesFileFileInstallCanRead(@TempDir Path conf) throws Exception {
        SimConfiguration sim = new SimConfiguration(conf);
        sim.update("7.3", "amd-snp");
        assertEquals(conf.resolve("org.janus.kvm.sim.cfg"), sim.file());
        Properties p = new Properties();
        try (var in = Files.newInputStream(sim.file())) {
            p.load(in);
        }
        assertEquals("7.3", p.getProperty("profile"));
        assertEquals("amd-snp", p.getProperty("hardware"));
        assertEquals(Map.of("profile", "7.3", "hardware", "amd-snp"), sim.read());
        assertTrue(Files.list(conf).allMatch(f -> f.getFileName().toString().endsWith(".cfg")), "no temporary file left");
    }

    @Test
    void restorePutsBackThePreviousFileOrRemovesANewOne(@TempDir Path conf) throws Exception {
        SimConfiguration sim = new SimConfiguration(conf);
        String none = sim.update("9.9", null);
        sim.restore(none);
        assertTrue(Files.notExists(sim.file()));

        Files.writeString(sim.file(), "profile=6.12\n");
        String previous = sim.update("9.9", "amd-snp");
        assertEquals(Map.of("profile", "9.9", "hardware", "amd-snp"), sim.read());
        sim.restore(previous);
        assertEquals("profile=6.12\n", Files.readString(sim.file()));
    }

    @Test
    void updateKeepsWhatItWasNotAskedToChange(@TempDir Path conf) throws Exception {
        Files.writeString(conf.resolve("org.janus.kvm.sim.cfg"), "profile=6.12\nhardware=intel-tdx\nnote=a\\\\b\n");
        SimConfiguration sim = new SimConfiguration(conf);
        sim.update("inplace", null);
        assertEquals(Map.of("profile", "inplace", "hardware", "intel-tdx"), sim.read());
        Properties p = new Properties();
        try (var in = Files.newInputStream(sim.file())) {
            p.load(in);
        }
        assertEquals("a\\b", p.getProperty("note"));
    }
}
