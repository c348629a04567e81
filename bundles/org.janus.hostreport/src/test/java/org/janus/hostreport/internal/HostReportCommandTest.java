package org.janus.hostreport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class HostReportCommandTest {

    @Test
    void optionsDefaultToTextFromTheBestProvider() {
        assertEquals(new HostReportCommand.Options(false, "auto"), HostReportCommand.Options.parse(List.of()));
        assertEquals(new HostReportCommand.Options(true, "sim"),
                HostReportCommand.Options.parse(List.of("--provider", "sim", "--json")));
    }

    @Test
    void badArgumentsNameTheProblemAndTheUsage() {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> HostReportCommand.Options.parse(List.of("--yaml")));
        assertTrue(unknown.getMessage().contains("unknown argument --yaml") && unknown.getMessage().contains("usage"));
        assertThrows(IllegalArgumentException.class, () -> HostReportCommand.Options.parse(List.of("--provider")));
        assertThrows(IllegalArgumentException.class, () -> HostReportCommand.Options.parse(List.of("--provider", "kvm")));
    }

    @Test
    void noProviderIsAnErrorThatSaysWhereLinuxRegisters() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> HostReportCommand.select("linux", List.of()));
        assertTrue(e.getMessage().contains("only where /dev/kvm opens"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> HostReportCommand.select("auto", List.of()));
    }
}
