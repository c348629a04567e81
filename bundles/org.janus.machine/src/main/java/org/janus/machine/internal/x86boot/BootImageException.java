package org.janus.machine.internal.x86boot;

/**
 * A kernel, initrd or command line that cannot be booted. The message is one line that names the file (or the
 * command line) and what is wrong with it, so that a user sees the problem without a stack trace.
 */
public final class BootImageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BootImageException(String message) { super(message); }

    public BootImageException(String message, Throwable cause) { super(message, cause); }
}
