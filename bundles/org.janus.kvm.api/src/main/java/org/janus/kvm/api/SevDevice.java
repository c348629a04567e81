package org.janus.kvm.api;

/** An open /dev/sev (the PSP driver), whose descriptor SEV commands carry in kvm_sev_cmd.sev_fd. */
public interface SevDevice extends AutoCloseable {
    @Override void close();
}
