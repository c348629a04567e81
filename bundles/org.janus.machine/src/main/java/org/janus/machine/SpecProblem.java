package org.janus.machine;

/**
 * One problem in a machine spec.
 *
 * @param path the JSON path of the value at fault, e.g. {@code $.memory.ram[1].size}
 * @param message what is wrong, and where possible what would be right
 */
public record SpecProblem(String path, String message) {
    @Override public String toString() { return path + ": " + message; }
}
