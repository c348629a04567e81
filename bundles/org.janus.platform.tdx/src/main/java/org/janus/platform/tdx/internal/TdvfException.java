package org.janus.platform.tdx.internal;

/** A firmware image that cannot be launched as a TD: it is no TDVF image, or its TDX metadata is malformed. */
public final class TdvfException extends Exception {
    private static final long serialVersionUID = 1L;

    public TdvfException(String message) { super(message); }
}
