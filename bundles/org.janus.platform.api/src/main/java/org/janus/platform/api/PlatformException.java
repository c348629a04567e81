package org.janus.platform.api;

/** A platform step failed; carries which step and the cause (often a KvmException with the errno). */
public class PlatformException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String platform;
    private final String step;

    public PlatformException(String platform, String step, String message, Throwable cause) {
        super(platform + ": " + step + ": " + message, cause);
        this.platform = platform;
        this.step = step;
    }

    public String platform() { return platform; }

    public String step() { return step; }
}
