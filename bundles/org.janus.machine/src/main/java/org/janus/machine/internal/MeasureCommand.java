package org.janus.machine.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import org.janus.machine.MachineSpec;
import org.janus.machine.SpecException;
import org.janus.machine.VmManager;
import org.janus.platform.api.PlatformException;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code janus measure SPEC.json}: the launch digest a spec's VM will have, computed from the spec alone, without
 * creating anything (what a relying party compares an attestation report against). A JDK-typed command like
 * {@link RunCommand}: a {@code Function<List<String>, String>} registered with {@code janus.command=measure}.
 *
 * <p>The returned text ends with the line {@value #DIGEST_PREFIX}{@code <hex>}. A spec with problems throws
 * {@link IllegalArgumentException} listing each with its JSON path; a platform that measures nothing, or a
 * measurement that cannot be computed, throws {@link IllegalStateException}.
 */
@Component(service = Function.class, property = {
    "janus.command=measure",
    "janus.command.usage=" + MeasureCommand.USAGE
})
public final class MeasureCommand implements Function<List<String>, String> {
    static final String USAGE = "measure SPEC.json";
    /** The start of the text's last line, followed by the digest in hex. */
    public static final String DIGEST_PREFIX = "  expected  ";

    @Reference(service = VmManager.class, target = "(component.name=org.janus.machine.internal.VmManagerImpl)")
    private VmManager service;
    private VmManagerImpl manager;

    public MeasureCommand() {}

    /** A command on a manager outside a framework. */
    public MeasureCommand(VmManagerImpl manager) { this.manager = manager; }

    @Activate
    void activate() { manager = (VmManagerImpl) service; }

    @Override public String apply(List<String> args) {
        Path file = specArgument(args);
        String json;
        try {
            json = SpecReader.readFile(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
        SpecReader.Result read = SpecReader.read(json, file.toAbsolutePath().getParent());
        SpecValidator.Measurable m;
        try {
            awaitPlatform(read.spec());
            m = manager.validator().validateForMeasurement(read);
        } catch (SpecException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        Optional<byte[]> digest;
        try {
            digest = m.platform().expectedMeasurement(m.platformSpec());
        } catch (PlatformException e) {
            throw new IllegalStateException(file + ": the expected measurement cannot be computed: " + e.getMessage(), e);
        }
        if (digest.isEmpty()) throw new IllegalStateException(file + ": the " + m.platform().id()
                + " platform measures nothing; its VMs have no launch digest");
        return render(file, m, HexFormat.of().formatHex(digest.get()));
    }

    static String render(Path file, SpecValidator.Measurable m, String hex) {
        MachineSpec s = m.spec();
        StringBuilder b = new StringBuilder();
        b.append("Janus measure: ").append(s.name()).append(" (").append(file).append(")\n");
        b.append("  platform  ").append(m.platform().id()).append('\n');
        b.append("  vcpus     ").append(s.vcpus().count()).append(s.vcpus().model() == null ? "" : " x " + s.vcpus().model()).append('\n');
        if (s.images().firmware() != null) b.append("  firmware  ").append(s.images().firmware()).append('\n');
        b.append(DIGEST_PREFIX).append(hex).append('\n');
        return b.toString();
    }

    /** Waits for the spec's platform, should its bundle still be starting; validation reports it if it never comes. */
    private void awaitPlatform(MachineSpec spec) throws InterruptedException {
        if (spec == null || spec.platform() == null) return;
        String id = spec.platform().id();
        manager.directory().awaitUntil(s -> s.platform(id).isPresent(), System.nanoTime() + RunCommand.SERVICE_WAIT.toNanos());
    }

    private static Path specArgument(List<String> args) {
        if (args.size() != 1 || args.get(0).startsWith("--"))
            throw new IllegalArgumentException("usage: " + USAGE + (args.isEmpty() ? "" : " (got " + String.join(" ", args) + ")"));
        return Path.of(args.get(0));
    }
}
