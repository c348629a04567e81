package org.janus.machine;

import java.util.List;

/**
 * One platform or memory backend service as the machine sees it.
 *
 * @param kind platform or backend
 * @param id its {@code janus.platform} or {@code janus.memory.backend} name
 * @param bundle the symbolic name of the bundle that registered it; empty outside a framework
 * @param version that bundle's version; empty outside a framework
 * @param ranking its {@code service.ranking}
 * @param preferred whether it is the one a new VM (or a VM rebinding) would take for its id: highest ranking, then
 *        highest bundle version, then the latest registered
 * @param vms the ids of the running VMs bound to it
 */
public record ServiceInfo(ServiceKind kind, String id, String bundle, String version, int ranking, boolean preferred,
                          List<String> vms) {
    public ServiceInfo {
        vms = List.copyOf(vms);
    }

    /** {@code id (bundle version)}, or the id alone outside a framework. */
    public String label() { return bundle.isEmpty() ? id : id + " (" + bundle + " " + version + ")"; }
}
