package org.janus.platform.snp.internal;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.janus.platform.api.ConfidentialPlatform.Problem;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.snp.measure.CpuSignature;
import org.janus.platform.snp.measure.FirmwareImageException;
import org.janus.platform.snp.measure.KernelHashes;
import org.janus.platform.snp.measure.MeasurementOptions;

/**
 * The SEV-SNP part of a machine spec, read and checked. Options of {@code platform}:
 * <ul>
 * <li>{@code policy}: the guest policy (number or "0x..." string), default {@value #DEFAULT_POLICY_TEXT} (SMT
 * allowed, the must-be-one bit 17, ABI 0.0). KVM accepts only the ABI bits 15:0, SMT (16, required), bit 17
 * (required), debug (19); it refuses single-socket (20) and every other bit.</li>
 * <li>{@code vmsaFeatures}: SEV_FEATURES bits asked of KVM_SEV_INIT2 (default 0); the host must offer them.</li>
 * <li>{@code hostData}: 32 bytes in hex, carried into the attestation report.</li>
 * <li>{@code idBlock} (96 bytes in hex) with {@code idAuth} (4096 bytes in hex) and {@code authorKey} (boolean):
 * an ID block the firmware checks at SNP_LAUNCH_FINISH.</li>
 * </ul>
 * The vCPU model ({@code vcpus.model}, QEMU's names, default {@value #DEFAULT_CPU_MODEL}) sets the CPU signature;
 * {@code images.firmware} must be an OVMF with SEV metadata. With {@code images.kernel} (and optionally
 * {@code images.initrd} and {@code images.cmdline}) the guest boots measured: their hashes go into OVMF's
 * SNP_KERNEL_HASHES page, so the firmware must have one.
 */
record SnpOptions(long policy, long vmsaFeatures, String cpuModel, CpuSignature cpu, Path firmware, Path kernel,
                  Path initrd, String cmdline, byte[] hostData, byte[] idBlock, byte[] idAuth, boolean authorKey) {
    static final long DEFAULT_POLICY = 0x30000;
    static final String DEFAULT_POLICY_TEXT = "0x30000";
    /** QEMU's documented vCPU model for SEV-SNP guests. */
    static final String DEFAULT_CPU_MODEL = "EPYC-v4";

    static final long POLICY_ABI = 0xFFFFL;
    static final long POLICY_SMT = 1L << 16;
    static final long POLICY_MUST_BE_ONE = 1L << 17;
    static final long POLICY_DEBUG = 1L << 19;
    static final long POLICY_SINGLE_SOCKET = 1L << 20;
    /** The bits KVM's SNP_LAUNCH_START lets through at all (single socket among them, refused separately). */
    static final long POLICY_KVM_BITS = POLICY_ABI | POLICY_SMT | POLICY_MUST_BE_ONE | POLICY_DEBUG | POLICY_SINGLE_SOCKET;

    static final String POLICY = "policy";
    static final String VMSA_FEATURES = "vmsaFeatures";
    static final String HOST_DATA = "hostData";
    static final String ID_BLOCK = "idBlock";
    static final String ID_AUTH = "idAuth";
    static final String AUTHOR_KEY = "authorKey";
    private static final Set<String> KNOWN = Set.of(POLICY, VMSA_FEATURES, HOST_DATA, ID_BLOCK, ID_AUTH, AUTHOR_KEY);

    static final String PLATFORM_PATH = "$.platform.";
    static final String MODEL_PATH = "$.vcpus.model";
    static final String COUNT_PATH = "$.vcpus.count";
    static final String FIRMWARE_PATH = "$.images.firmware";
    static final String KERNEL_PATH = "$.images.kernel";
    static final String INITRD_PATH = "$.images.initrd";
    static final String CMDLINE_PATH = "$.images.cmdline";

    /** The options, or every problem found. */
    record Reading(SnpOptions options, List<Problem> problems) {}

    /** The SEV_FEATURES every initial VMSA of such a VM has. */
    MeasurementOptions measurementOptions() {
        return new MeasurementOptions(MeasurementOptions.SNP_ACTIVE | vmsaFeatures);
    }

    /** The hashes of kernel, initrd and command line for a measured direct boot, or null without a kernel. */
    KernelHashes kernelHashes() throws IOException {
        return kernel == null ? null : KernelHashes.read(kernel, initrd, cmdline);
    }

    /**
     * Reads the options and checks everything that can be checked without the host.
     *
     * @param checkFirmware whether to read the firmware image and require SEV metadata in it
     */
    static Reading read(PlatformSpec spec, boolean checkFirmware) {
        List<Problem> problems = new ArrayList<>();
        for (String name : spec.options().keySet()) {
            if (!KNOWN.contains(name)) problems.add(new Problem(PLATFORM_PATH + name,
                    "unknown SEV-SNP option; the options are " + String.join(", ", KNOWN.stream().sorted().toList())));
        }
        Map<String, Object> o = spec.options();
        long policy = o.containsKey(POLICY) ? number(o.get(POLICY), POLICY, problems) : DEFAULT_POLICY;
        if (policy >= 0) checkPolicy(policy, problems);
        long vmsaFeatures = o.containsKey(VMSA_FEATURES) ? number(o.get(VMSA_FEATURES), VMSA_FEATURES, problems) : 0;
        if (vmsaFeatures > 0 && (vmsaFeatures & MeasurementOptions.SNP_ACTIVE) != 0) problems.add(new Problem(PLATFORM_PATH
                + VMSA_FEATURES, "bit 0 (SNPActive) is not asked for: KVM sets it for every SEV-SNP VM"));
        byte[] hostData = o.containsKey(HOST_DATA) ? hex(o.get(HOST_DATA), HOST_DATA, SnpCommands.HOST_DATA_SIZE, problems) : null;
        byte[] idBlock = o.containsKey(ID_BLOCK) ? hex(o.get(ID_BLOCK), ID_BLOCK, SnpCommands.ID_BLOCK_SIZE, problems) : null;
        byte[] idAuth = o.containsKey(ID_AUTH) ? hex(o.get(ID_AUTH), ID_AUTH, SnpCommands.ID_AUTH_SIZE, problems) : null;
        if (o.containsKey(ID_BLOCK) != o.containsKey(ID_AUTH)) problems.add(new Problem(PLATFORM_PATH
                + (o.containsKey(ID_BLOCK) ? ID_AUTH : ID_BLOCK), "idBlock and idAuth go together: the firmware checks"
                + " the ID block's signature with the key in idAuth"));
        boolean authorKey = false;
        if (o.containsKey(AUTHOR_KEY)) {
            if (o.get(AUTHOR_KEY) instanceof Boolean b) authorKey = b;
            else problems.add(new Problem(PLATFORM_PATH + AUTHOR_KEY, "must be true or false"));
            if (authorKey && !o.containsKey(ID_BLOCK)) problems.add(new Problem(PLATFORM_PATH + AUTHOR_KEY,
                    "an author key signs an ID key, so it needs idBlock and idAuth"));
        }

        if (spec.vcpus() < 1) problems.add(new Problem(COUNT_PATH, "an SEV-SNP VM needs at least one vCPU"));
        String model = spec.cpuModel() == null ? DEFAULT_CPU_MODEL : spec.cpuModel();
        CpuSignature cpu = null;
        try {
            cpu = CpuSignature.ofQemuModel(model);
        } catch (IllegalArgumentException e) {
            problems.add(new Problem(MODEL_PATH, e.getMessage()));
        }
        if (spec.kernel() == null) {
            String why = "is for direct kernel boot and needs images.kernel";
            if (spec.initrd() != null) problems.add(new Problem(INITRD_PATH, why));
            if (spec.cmdline() != null) problems.add(new Problem(CMDLINE_PATH, why));
        } else {
            readableFile(spec.kernel(), KERNEL_PATH, problems);
            if (spec.initrd() != null) readableFile(spec.initrd(), INITRD_PATH, problems);
        }
        if (spec.firmware() == null) {
            problems.add(new Problem(FIRMWARE_PATH, "an SEV-SNP guest starts from firmware: name an OVMF image with SEV"
                    + " metadata (e.g. Debian's /usr/share/ovmf/OVMF.fd)"));
        } else if (checkFirmware) {
            checkFirmware(spec, spec.kernel() != null, problems);
        }
        if (!problems.isEmpty()) return new Reading(null, List.copyOf(problems));
        return new Reading(new SnpOptions(policy, vmsaFeatures, model, cpu, spec.firmware(), spec.kernel(), spec.initrd(),
                spec.cmdline(), hostData, idBlock, idAuth, authorKey), List.of());
    }

    private static void checkPolicy(long policy, List<Problem> problems) {
        String path = PLATFORM_PATH + POLICY;
        long foreign = policy & ~POLICY_KVM_BITS;
        if (foreign != 0) problems.add(new Problem(path, String.format("0x%x sets bits 0x%x that KVM refuses (it takes"
                + " the ABI version in bits 15:0, SMT 16, the must-be-one bit 17 and debug 19)", policy, foreign)));
        if ((policy & POLICY_MUST_BE_ONE) == 0) problems.add(new Problem(path, String.format(
                "0x%x clears bit 17, which the SNP firmware ABI reserves as must-be-one", policy)));
        if ((policy & POLICY_SMT) == 0) problems.add(new Problem(path, String.format(
                "0x%x clears bit 16 (SMT allowed); KVM refuses SNP guests that forbid SMT", policy)));
        if ((policy & POLICY_SINGLE_SOCKET) != 0) problems.add(new Problem(path, String.format(
                "0x%x sets bit 20 (single socket), which KVM does not support", policy)));
    }

    /** The firmware must start an SNP guest and, with a kernel, verify it: the latter is the kernel's problem. */
    private static void checkFirmware(PlatformSpec spec, boolean withKernel, List<Problem> problems) {
        Path firmware = spec.firmware();
        OvmfImage image;
        try {
            image = OvmfImage.parse(firmware.toString(), Files.readAllBytes(firmware));
            image.requireSevMetadata();
            image.requireSevEsResetEip();
        } catch (IOException e) {
            problems.add(new Problem(FIRMWARE_PATH, "cannot read " + firmware + ": " + e));
            return;
        } catch (FirmwareImageException e) {
            problems.add(new Problem(FIRMWARE_PATH, e.getMessage()));
            return;
        }
        checkLanding(spec, image, problems);
        if (!withKernel) return;
        try {
            image.requireKernelHashesOffset();
        } catch (FirmwareImageException e) {
            problems.add(new Problem(KERNEL_PATH, "an SEV-SNP guest boots a kernel given by the VMM only measured, by"
                    + " its hash in the firmware's SEV hash table: " + e.getMessage()));
        }
    }

    /**
     * Where the memory map is known, the image (which ends at 4 GiB) and every SEV metadata section must land in RAM:
     * a VM whose firmware lands nowhere can never launch, so it has no digest to print either.
     */
    private static void checkLanding(PlatformSpec spec, OvmfImage image, List<Problem> problems) {
        if (spec.ram().isEmpty()) return;
        long start = image.loadGpa();
        long end = start + image.size();
        if (!spec.ramCovers(start, end)) problems.add(new Problem(RAM_PATH, String.format("%s loads at [0x%x, 0x%x), which the RAM"
                + " regions do not cover: give it a region there (e.g. \"bios\" at 0x%x, %d KiB)", image.name(), start, end, start,
                image.size() / 1024)));
        try {
            for (SevMetadataSection s : image.requireSevMetadata()) {
                if (!spec.ramCovers(s.gpa(), s.gpa() + s.length())) problems.add(new Problem(RAM_PATH, String.format(
                        "the firmware's SEV metadata section %s at [0x%x, 0x%x) lies outside RAM", s.kind(), s.gpa(), s.gpa() + s.length())));
            }
        } catch (FirmwareImageException checkedBefore) {
            // reported by the caller
        }
    }

    static final String RAM_PATH = "$.memory.ram";

    private static void readableFile(Path file, String path, List<Problem> problems) {
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) problems.add(new Problem(path, file
                + " is not a readable file; its SHA-256 goes into the launch measurement"));
    }

    /** A non-negative integer from a JSON number or a decimal or 0x-hex string; -1 after recording a problem. */
    private static long number(Object value, String name, List<Problem> problems) {
        String path = PLATFORM_PATH + name;
        try {
            if (value instanceof String s) {
                String t = s.strip().toLowerCase(Locale.ROOT).replace("_", "");
                long v = t.startsWith("0x") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseLong(t);
                if (v >= 0) return v;
            } else if (value instanceof Number n) {
                BigDecimal d = new BigDecimal(n.toString());
                if (d.signum() >= 0) return d.longValueExact();
            }
        } catch (NumberFormatException | ArithmeticException e) {
            // reported below
        }
        problems.add(new Problem(path, "must be a non-negative integer (a number, or a string in decimal or 0x hex), not "
                + value));
        return -1;
    }

    private static byte[] hex(Object value, String name, int size, List<Problem> problems) {
        String path = PLATFORM_PATH + name;
        if (value instanceof String s) {
            String t = s.strip();
            if (t.startsWith("0x") || t.startsWith("0X")) t = t.substring(2);
            try {
                byte[] bytes = HexFormat.of().parseHex(t);
                if (bytes.length == size) return bytes;
                problems.add(new Problem(path, "must be " + size + " bytes (" + 2 * size + " hex digits), not " + bytes.length));
                return null;
            } catch (IllegalArgumentException e) {
                // reported below
            }
        }
        problems.add(new Problem(path, "must be a string of " + 2 * size + " hex digits (" + size + " bytes)"));
        return null;
    }
}
