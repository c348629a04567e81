package com.example.acme.sealed.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import org.janus.platform.tck.PlatformContract;
import org.janus.platform.tck.PlatformUnderTest;

/** The platform passes Janus's platform contract: Felix with Janus's bundles, this bundle deployed into it. */
class SealedPlatformContractIT extends PlatformContract {
    @Override protected PlatformUnderTest platform() {
        Path jar;
        try (var jars = Files.list(Path.of("target"))) {
            jar = jars.filter(p -> p.getFileName().toString().matches("com\\.example\\.acme\\.sealed-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new IllegalStateException("target/ has no platform jar yet (run mvn verify)"));
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return PlatformUnderTest.builder(jar, "acme-sealed")
                .platform("{ \"id\": \"acme-sealed\", \"pages\": 32, \"seed\": 2026 }")
                .strategies("guest-memfd")
                .refuses("{ \"id\": \"acme-sealed\", \"pages\": 0 }", "$.platform.pages")
                .refuses("{ \"id\": \"acme-sealed\", \"pages\": 16, \"seed\": \"abc\" }", "$.platform.seed")
                .refuses("{ \"id\": \"acme-sealed\", \"colour\": \"blue\" }", "$.platform.colour")
                .unsupportedOn("arm64", "arm64-pkvm")
                .build();
    }
}
