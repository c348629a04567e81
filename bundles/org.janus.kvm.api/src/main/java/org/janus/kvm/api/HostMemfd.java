package org.janus.kvm.api;

import org.osgi.annotation.versioning.ProviderType;

/** An ordinary memfd (memfd_create), sized at creation: host memory KVM reaches through a memslot's userspace_addr. */
@ProviderType
public interface HostMemfd extends MemoryFile {
}
