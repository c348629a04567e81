package org.janus.platform.tdx.internal;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.janus.platform.api.ConfidentialPlatform.Problem;
import org.janus.platform.api.PlatformSpec;

/**
 * The tdx platform's part of a machine spec, each problem named with its JSON path. Options of {@code $.platform}:
 * <ul>
 *   <li>{@code attributes}: the TD attributes (TDX module ABI, TD_PARAMS.ATTRIBUTES): bit 0 DEBUG, bit 28
 *       SEPT_VE_DISABLE, bit 30 PKS, bit 31 KL, bit 63 PERFMON; default SEPT_VE_DISABLE (0x10000000), which Linux
 *       guests require. What the host accepts is checked against KVM_TDX_CAPABILITIES when the VM is made.</li>
 *   <li>{@code xfam}: the extended features the TD may use (XSAVE bits); x87 and SSE (bits 0 and 1) are required;
 *       default: all the TDX module and KVM offer.</li>
 *   <li>{@code gpaw}: the guest physical address width, 48 (shared bit 47) or 52 (shared bit 51); default 48.</li>
 *   <li>{@code mrConfigId}, {@code mrOwner}, {@code mrOwnerConfig}: 48 bytes (96 hex digits) each, reported in the TD
 *       report as they are; default zero.</li>
 * </ul>
 * The firmware ({@code $.images.firmware}) must be a TDVF image. Direct kernel boot and a named vCPU model are refused:
 * TDVF loads the kernel itself, and a TD's CPUID is what the host and the TDX module allow.
 */
record TdxOptions(long attributes, Long xfam, int gpaw, byte[] mrConfigId, byte[] mrOwner, byte[] mrOwnerConfig, Path firmware) {
    static final String PLATFORM_PATH = "$.platform.";
    static final String ATTRIBUTES = "attributes";
    static final String XFAM = "xfam";
    static final String GPAW = "gpaw";
    static final String MR_CONFIG_ID = "mrConfigId";
    static final String MR_OWNER = "mrOwner";
    static final String MR_OWNER_CONFIG = "mrOwnerConfig";
    static final Set<String> KNOWN = Set.of(ATTRIBUTES, XFAM, GPAW, MR_CONFIG_ID, MR_OWNER, MR_OWNER_CONFIG);
    static final long ATTR_DEBUG = 1L;
    static final long ATTR_SEPT_VE_DISABLE = 1L << 28;
    static final long ATTR_PKS = 1L << 30;
    static final long ATTR_KL = 1L << 31;
    static final long ATTR_PERFMON = 1L << 63;
    static final long ATTR_KNOWN = ATTR_DEBUG | ATTR_SEPT_VE_DISABLE | ATTR_PKS | ATTR_KL | ATTR_PERFMON;
    static final long DEFAULT_ATTRIBUTES = ATTR_SEPT_VE_DISABLE;
    /** XFAM bits 18:0 are XSAVE state components; x87 and SSE must be there. */
    static final long XFAM_DEFINED = (1L << 19) - 1;
    static final long XFAM_REQUIRED = 0x3;
    static final int MR_SIZE = 48;

    /** What was read: the options, or the problems (then options is null). */
    record Reading(TdxOptions options, List<Problem> problems) {}

    /** @param checkFirmware whether to read the firmware and require a TDVF image */
    static Reading read(PlatformSpec spec, boolean checkFirmware) {
        List<Problem> problems = new ArrayList<>();
        Map<String, Object> o = spec.options();
        for (String name : o.keySet())
            if (!KNOWN.contains(name)) problems.add(new Problem(PLATFORM_PATH + name, "unknown TDX option; the options are "
                    + String.join(", ", KNOWN.stream().sorted().toList())));
        long attributes = DEFAULT_ATTRIBUTES;
        if (o.containsKey(ATTRIBUTES)) {
            Long a = number(o.get(ATTRIBUTES), ATTRIBUTES, problems);
            if (a != null) {
                attributes = a;
                if ((a & ~ATTR_KNOWN) != 0) problems.add(new Problem(PLATFORM_PATH + ATTRIBUTES, String.format("0x%x sets bits"
                        + " 0x%x that are no TD attributes (DEBUG 0, SEPT_VE_DISABLE 28, PKS 30, KL 31, PERFMON 63)", a, a & ~ATTR_KNOWN)));
            }
        }
        Long xfam = null;
        if (o.containsKey(XFAM)) {
            xfam = number(o.get(XFAM), XFAM, problems);
            if (xfam != null && (xfam & XFAM_REQUIRED) != XFAM_REQUIRED) problems.add(new Problem(PLATFORM_PATH + XFAM, String.format(
                    "0x%x lacks x87 and SSE state (bits 0 and 1), which every TD has", xfam)));
            if (xfam != null && (xfam & ~XFAM_DEFINED) != 0) problems.add(new Problem(PLATFORM_PATH + XFAM, String.format(
                    "0x%x sets bits above 18, which name no XSAVE state component", xfam)));
        }
        int gpaw = 48;
        if (o.containsKey(GPAW)) {
            Long g = number(o.get(GPAW), GPAW, problems);
            if (g != null && g != 48 && g != 52) problems.add(new Problem(PLATFORM_PATH + GPAW, g + " is not 48 or 52, the"
                    + " guest physical address widths TDX has (4-level and 5-level EPT)"));
            else if (g != null) gpaw = g.intValue();
        }
        byte[] mrConfigId = o.containsKey(MR_CONFIG_ID) ? hex(o.get(MR_CONFIG_ID), MR_CONFIG_ID, problems) : null;
        byte[] mrOwner = o.containsKey(MR_OWNER) ? hex(o.get(MR_OWNER), MR_OWNER, problems) : null;
        byte[] mrOwnerConfig = o.containsKey(MR_OWNER_CONFIG) ? hex(o.get(MR_OWNER_CONFIG), MR_OWNER_CONFIG, problems) : null;

        if (spec.vcpus() < 1) problems.add(new Problem("$.vcpus.count", "a TD needs at least one vCPU"));
        if (spec.cpuModel() != null) problems.add(new Problem("$.vcpus.model", "a TD's CPUID is what the host and the TDX"
                + " module allow (KVM_TDX_CAPABILITIES); leave the model out"));
        String direct = "direct kernel boot is not supported for TDX: TDVF loads the kernel from the guest's disk";
        if (spec.kernel() != null) problems.add(new Problem("$.images.kernel", direct));
        if (spec.initrd() != null) problems.add(new Problem("$.images.initrd", direct));
        if (spec.cmdline() != null) problems.add(new Problem("$.images.cmdline", direct));
        if (spec.firmware() == null) {
            problems.add(new Problem("$.images.firmware", "a TD starts from TDVF: name a TDVF image, e.g. Debian's"
                    + " ovmf-inteltdx OVMF.inteltdx.ms.fd"));
        } else if (checkFirmware) {
            try {
                TdvfImage.read(spec.firmware());
            } catch (IOException e) {
                problems.add(new Problem("$.images.firmware", "cannot read " + spec.firmware() + ": " + e.getMessage()));
            } catch (TdvfException e) {
                problems.add(new Problem("$.images.firmware", e.getMessage()));
            }
        }
        if (!problems.isEmpty()) return new Reading(null, List.copyOf(problems));
        return new Reading(new TdxOptions(attributes, xfam, gpaw, mrConfigId, mrOwner, mrOwnerConfig, spec.firmware()), List.of());
    }

    /** A non-negative integer from a JSON number or a decimal or 0x-hex string; null after recording a problem. */
    private static Long number(Object value, String name, List<Problem> problems) {
        try {
            if (value instanceof String s) {
                String t = s.strip().toLowerCase(Locale.ROOT).replace("_", "");
                long v = t.startsWith("0x") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseLong(t);
                if (t.startsWith("0x") || v >= 0) return v;
            } else if (value instanceof Number n) {
                BigDecimal d = new BigDecimal(n.toString());
                if (d.signum() >= 0) return d.longValueExact();
            }
        } catch (NumberFormatException | ArithmeticException e) {
            // reported below
        }
        problems.add(new Problem(PLATFORM_PATH + name, "must be a non-negative integer (a number, or a string in decimal or"
                + " 0x hex), not " + value));
        return null;
    }

    private static byte[] hex(Object value, String name, List<Problem> problems) {
        if (value instanceof String s) {
            String t = s.strip();
            if (t.startsWith("0x") || t.startsWith("0X")) t = t.substring(2);
            try {
                byte[] b = HexFormat.of().parseHex(t);
                if (b.length == MR_SIZE) return b;
            } catch (IllegalArgumentException e) {
                // reported below
            }
        }
        problems.add(new Problem(PLATFORM_PATH + name, "must be a string of " + 2 * MR_SIZE + " hex digits (a SHA-384 digest)"));
        return null;
    }
}
