package org.janus.runtime;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A feature file: a named set of bundles and the framework properties they need. The JSON follows the field
 * names of the OSGi R8 Feature format ({@code id}, {@code description}, {@code bundles[].id} as
 * {@code group:artifact:version}, {@code framework-properties}) so that a Feature Service implementation could
 * read the same files later.
 *
 * @param id the feature's {@code group:artifact:version}
 * @param bundles bundle ids in install order
 */
public record Feature(String id, String description, List<String> bundles, Map<String, String> frameworkProperties) {

    public Feature {
        bundles = List.copyOf(bundles);
        frameworkProperties = Map.copyOf(frameworkProperties);
    }

    /**
     * Reads a feature file.
     *
     * @throws LaunchException naming the file when it cannot be read or is not a feature
     */
    public static Feature read(Path file) throws LaunchException {
        JsonObject json;
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonElement root = JsonParser.parseReader(in);
            if (!root.isJsonObject()) throw new LaunchException("feature " + file + ": not a JSON object");
            json = root.getAsJsonObject();
        } catch (IOException | JsonParseException e) {
            // Gson adds a line pointing to its troubleshooting guide; the message stays one line.
            String why = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(e.toString());
            throw new LaunchException("feature " + file + ": " + printable(why), e);
        }
        String id = string(json, "id", file);
        String description = json.has("description") ? string(json, "description", file) : "";
        List<String> bundles = new ArrayList<>();
        if (!json.has("bundles") || !json.get("bundles").isJsonArray()) {
            throw new LaunchException("feature " + file + ": no \"bundles\" array");
        }
        for (JsonElement b : json.getAsJsonArray("bundles")) {
            if (!b.isJsonObject()) throw new LaunchException("feature " + file + ": a bundle is not an object: " + b);
            String bundleId = string(b.getAsJsonObject(), "id", file);
            coordinates(bundleId, file);
            bundles.add(bundleId);
        }
        Map<String, String> properties = new LinkedHashMap<>();
        if (json.has("framework-properties")) {
            JsonElement p = json.get("framework-properties");
            if (!p.isJsonObject()) throw new LaunchException("feature " + file + ": \"framework-properties\" is not an object");
            for (Map.Entry<String, JsonElement> e : p.getAsJsonObject().entrySet()) {
                if (!e.getValue().isJsonPrimitive()) {
                    throw new LaunchException("feature " + file + ": framework property " + printable(e.getKey()) + " is not a value");
                }
                properties.put(e.getKey(), e.getValue().getAsString());
            }
        }
        return new Feature(id, description, bundles, properties);
    }

    /**
     * Where a bundle of the distribution lives: {@code group:artifact:version} is {@code <bundles>/artifact-version.jar}.
     */
    public static Path bundleFile(Path bundlesDirectory, String bundleId) throws LaunchException {
        String[] gav = coordinates(bundleId, null);
        return bundlesDirectory.resolve(gav[1] + "-" + gav[2] + ".jar");
    }

    private static String[] coordinates(String bundleId, Path file) throws LaunchException {
        String[] gav = bundleId.split(":");
        if (gav.length != 3 || gav[0].isEmpty() || gav[1].isEmpty() || gav[2].isEmpty() || bundleId.contains("${")) {
            throw new LaunchException((file == null ? "" : "feature " + file + ": ")
                    + "bundle id " + printable(bundleId) + " is not group:artifact:version");
        }
        // artifact-version.jar is a file name in the bundles directory: no separators that would lead out of it.
        if (bundleId.chars().anyMatch(c -> c == '/' || c == '\\' || Character.isISOControl(c))) {
            throw new LaunchException((file == null ? "" : "feature " + file + ": ")
                    + "bundle id " + printable(bundleId) + " has a path separator or a control character");
        }
        return gav;
    }

    /** {@code text} with control characters as escapes, so that a message stays one line. */
    private static String printable(String text) {
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) b.append(String.format("\\u%04x", c));
            else b.appendCodePoint(c);
        });
        return b.toString();
    }

    private static String string(JsonObject json, String member, Path file) throws LaunchException {
        JsonElement e = json.get(member);
        if (e == null || !e.isJsonPrimitive()) throw new LaunchException("feature " + file + ": no \"" + member + "\" string");
        return e.getAsString();
    }
}
