package org.janus.platform.api;

import java.util.HexFormat;

/**
 * What a launch produced.
 *
 * @param measurement the launch digest the firmware computed (empty for platforms without one)
 * @param summary a line for reports, e.g. "SNP launch finished: 12 LAUNCH_UPDATE calls, 1.2 MiB measured"
 */
public record LaunchResult(byte[] measurement, String summary) {
    public LaunchResult {
        measurement = measurement.clone();
    }

    public static LaunchResult unmeasured(String summary) { return new LaunchResult(new byte[0], summary); }

    @Override public byte[] measurement() { return measurement.clone(); }

    public String measurementHex() { return HexFormat.of().formatHex(measurement); }
}
