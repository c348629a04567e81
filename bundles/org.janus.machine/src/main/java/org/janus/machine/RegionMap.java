package org.janus.machine;

import java.util.List;
import org.janus.memory.api.PageStateMap;

/**
 * The private and shared stretches of one RAM region, as the machine tracks them.
 *
 * @param name the region's name in the spec
 * @param gpa where it starts
 * @param size its size in bytes
 * @param backend the id of the backend that serves it
 * @param runs maximal runs of pages in one state, in GPA order, covering the region
 */
public record RegionMap(String name, long gpa, long size, String backend, List<PageStateMap.Run> runs) {
    public RegionMap {
        runs = List.copyOf(runs);
    }
}
