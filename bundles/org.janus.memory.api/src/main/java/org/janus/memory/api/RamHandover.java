package org.janus.memory.api;

import java.util.List;
import java.util.Map;

/**
 * Everything a {@link GuestRam} is, handed from the backend that made it to a newer version of that backend (a
 * hot swap): the region, its page states, its listeners, and the files and mappings behind it. Every value's type
 * comes from an API bundle or the JDK, never from the backend's own classes, so that code loaded by another class
 * loader can take it over.
 *
 * @param region the region
 * @param backend the id of the backend that made it
 * @param states the page states, handed over, not copied: only the adopting RAM may touch them from now on
 * @param listeners the listeners, in the order they were added
 * @param backing the backend's files and mappings by name (e.g. {@code gmem} a {@link org.janus.kvm.api.GuestMemfd},
 *        {@code mapping} a {@link org.janus.kvm.api.HostMapping}), and its settings (booleans, numbers, strings)
 */
public record RamHandover(RamRegion region, String backend, PageStateMap states, List<ConversionListener> listeners,
                          Map<String, Object> backing) {
    public RamHandover {
        listeners = List.copyOf(listeners);
        backing = Map.copyOf(backing);
    }

    /** The backing value {@code key}, of {@code type}. */
    public <T> T backing(String key, Class<T> type) {
        Object v = backing.get(key);
        if (!type.isInstance(v))
            throw new MemoryException(region.name(), MemoryException.Step.CHECK, GpaRange.of(region.gpa(), region.size()),
                    "the handed-over RAM has no " + key + " of type " + type.getSimpleName() + " (it has " + backing.keySet() + ")", null);
        return type.cast(v);
    }
}
