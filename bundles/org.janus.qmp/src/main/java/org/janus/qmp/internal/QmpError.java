package org.janus.qmp.internal;

/**
 * A command or message failed; the client gets {@code {"error": {"class": ..., "desc": ...}}} and nothing was
 * changed. QMP's error classes: {@code GenericError} for nearly everything, {@code CommandNotFound} for an unknown
 * command and for commands sent before (or {@code qmp_capabilities} after) capabilities negotiation.
 */
final class QmpError extends Exception {
    private static final long serialVersionUID = 1L;
    static final String GENERIC = "GenericError";
    static final String COMMAND_NOT_FOUND = "CommandNotFound";

    private final String errorClass;

    QmpError(String errorClass, String desc) {
        super(desc);
        this.errorClass = errorClass;
    }

    static QmpError generic(String desc) { return new QmpError(GENERIC, desc); }

    static QmpError notFound(String desc) { return new QmpError(COMMAND_NOT_FOUND, desc); }

    String errorClass() { return errorClass; }
}
