package org.janus.platform.snp.measure;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A processor signature: the value of CPUID leaf 1 EAX (family, model, stepping). At reset a vCPU holds it in RDX,
 * and an SEV-SNP guest's initial VMSA is measured with it, so the launch digest depends on the vCPU model.
 *
 * @param eax the packed signature as CPUID Fn0000_0001_EAX reports it
 */
public record CpuSignature(int eax) {

    /*
     * Family, model and stepping of QEMU's AMD EPYC vCPU models (target/i386/cpu.c, builtin_x86_defs). A versioned
     * name (EPYC-Milan-v2) differs from its base only in features, never in the signature.
     */
    private static final Map<String, CpuSignature> QEMU_MODELS = qemuModelTable();

    /**
     * Packs family, model and stepping the way AMD's CPUID specification (publication 25481, CPUID Fn0000_0001_EAX)
     * lays them out: a family above 0xF is split into base family 0xF plus an extended family, the model into a
     * low and an extended nibble.
     */
    public static CpuSignature of(int family, int model, int stepping) {
        if (family < 0 || family > 0xF + 0xFF) {
            throw new IllegalArgumentException("CPU family out of range: " + family);
        }
        if (model < 0 || model > 0xFF) {
            throw new IllegalArgumentException("CPU model out of range: " + model);
        }
        if (stepping < 0 || stepping > 0xF) {
            throw new IllegalArgumentException("CPU stepping out of range: " + stepping);
        }
        int baseFamily = Math.min(family, 0xF);
        int extendedFamily = family - baseFamily;
        return new CpuSignature(extendedFamily << 20 | (model >> 4) << 16 | baseFamily << 8 | (model & 0xF) << 4
                | stepping);
    }

    /**
     * The signature of a QEMU vCPU model, named as {@code -cpu} names it: {@code EPYC}, {@code EPYC-v4},
     * {@code EPYC-Rome}, {@code EPYC-Milan}, {@code EPYC-Milan-v2}, {@code EPYC-Genoa}, {@code EPYC-Turin}, ...
     *
     * @throws IllegalArgumentException for a name QEMU does not define among its EPYC models, listing the known ones
     */
    public static CpuSignature ofQemuModel(String name) {
        CpuSignature signature = QEMU_MODELS.get(name);
        if (signature == null) {
            throw new IllegalArgumentException("unknown vCPU model '" + name + "'; known models: "
                    + String.join(", ", QEMU_MODELS.keySet()));
        }
        return signature;
    }

    /** The QEMU vCPU model names {@link #ofQemuModel} knows, in QEMU's order. */
    public static Set<String> qemuModels() {
        return Collections.unmodifiableSet(QEMU_MODELS.keySet());
    }

    public int family() {
        int baseFamily = eax >> 8 & 0xF;
        return baseFamily == 0xF ? baseFamily + (eax >> 20 & 0xFF) : baseFamily;
    }

    public int model() {
        return (eax >> 16 & 0xF) << 4 | eax >> 4 & 0xF;
    }

    public int stepping() {
        return eax & 0xF;
    }

    @Override
    public String toString() {
        return String.format("0x%x (family %d, model %d, stepping %d)", eax, family(), model(), stepping());
    }

    private static Map<String, CpuSignature> qemuModelTable() {
        Map<String, CpuSignature> models = new LinkedHashMap<>();
        addVersions(models, "EPYC", 5, of(23, 1, 2));
        models.put("EPYC-IBPB", of(23, 1, 2));
        addVersions(models, "EPYC-Rome", 5, of(23, 49, 0));
        addVersions(models, "EPYC-Milan", 3, of(25, 1, 1));
        addVersions(models, "EPYC-Genoa", 2, of(25, 17, 0));
        addVersions(models, "EPYC-Turin", 1, of(26, 0, 0));
        return models;
    }

    private static void addVersions(Map<String, CpuSignature> models, String base, int versions, CpuSignature sig) {
        models.put(base, sig);
        for (int version = 1; version <= versions; version++) {
            models.put(base + "-v" + version, sig);
        }
    }
}
