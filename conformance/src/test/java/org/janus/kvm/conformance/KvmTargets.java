package org.janus.kvm.conformance;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.janus.kvm.linux.LinuxKvmDevice;
import org.janus.kvm.sim.SimHardware;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;

/**
 * The targets every conformance class runs against. System property {@value #PROPERTY} selects them: a comma list of
 * target names or prefixes ({@code sim}, {@code linux}, {@code sim:inplace}, {@code sim:inplace/amd-snp}). Without
 * it: every sim profile on every sim hardware, plus {@code linux} where /dev/kvm exists.
 */
public final class KvmTargets {
    public static final String PROPERTY = "janus.conformance.targets";
    /** The sim hardware the suite covers: one per confidential platform family. */
    static final List<SimHardware> HARDWARE = List.of(SimHardware.AMD_SNP, SimHardware.INTEL_TDX, SimHardware.ARM64_PKVM);
    static final String LINUX = "linux";

    private KvmTargets() {}

    /** The {@code @MethodSource} of every conformance class. */
    public static Stream<KvmTarget> targets() {
        String selection = System.getProperty(PROPERTY, "").trim();
        List<KvmTarget> known = known();
        if (selection.isEmpty()) {
            boolean devKvm = new File("/dev/kvm").exists();
            return known.stream().filter(t -> !t.name().equals(LINUX) || devKvm);
        }
        List<String> wanted = Arrays.stream(selection.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        for (String w : wanted) {
            if (known.stream().noneMatch(t -> t.matches(w))) {
                throw new IllegalArgumentException(PROPERTY + ": no target matches '" + w + "'; known: "
                        + known.stream().map(KvmTarget::name).toList());
            }
        }
        // An explicitly named linux target runs even without /dev/kvm, so that its absence fails loudly.
        return known.stream().filter(t -> wanted.stream().anyMatch(t::matches));
    }

    static List<KvmTarget> known() {
        List<KvmTarget> all = new ArrayList<>();
        for (SimProfile profile : SimProfile.values()) {
            for (SimHardware hardware : HARDWARE) {
                all.add(new KvmTarget("sim:" + profile.id() + "/" + hardware.id(), () -> SimKvm.create(profile, hardware)));
            }
        }
        all.add(new KvmTarget(LINUX, LinuxKvmDevice::open));
        return all;
    }
}
