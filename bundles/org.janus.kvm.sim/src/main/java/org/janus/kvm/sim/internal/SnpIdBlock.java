package org.janus.kvm.sim.internal;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;

/**
 * What the SEV firmware checks of an ID block at SNP_LAUNCH_FINISH (SEV-SNP firmware ABI, "ID Block" and
 * "ID Authentication Information Structure"): the ID key's ECDSA P-384 signature over the 96-byte block, the
 * author key's signature over the ID key when asked, then the launch digest and the policy the block names.
 *
 * <p>Layouts, all little-endian. ID block: LD[48] at 0x00, FAMILY_ID[16] 0x30, IMAGE_ID[16] 0x40, VERSION u32 0x50
 * (1), GUEST_SVN u32 0x54, POLICY u64 0x58. ID auth: ID_KEY_ALGO u32 0x000 (1 = ECDSA P-384 with SHA-384),
 * AUTH_KEY_ALGO u32 0x004, ID_BLOCK_SIG 0x040 (R[72], S[72]), ID_KEY 0x240 (CURVE u32 (2 = P-384), QX[72], QY[72]),
 * ID_KEY_SIG 0x680 (as ID_BLOCK_SIG), AUTHOR_KEY 0x880 (as ID_KEY); a public-key structure is 0x404 bytes.
 */
final class SnpIdBlock {
    static final int BLOCK_SIZE = 96;
    static final int AUTH_SIZE = 4096;

    private static final int LD = 0x00;
    private static final int VERSION = 0x50;
    private static final int POLICY = 0x58;
    private static final int ID_KEY_ALGO = 0x000;
    private static final int AUTH_KEY_ALGO = 0x004;
    private static final int ID_BLOCK_SIG = 0x040;
    private static final int ID_KEY = 0x240;
    private static final int ID_KEY_SIG = 0x680;
    private static final int AUTHOR_KEY = 0x880;
    private static final int PUBLIC_KEY_SIZE = 0x404;
    private static final int ALGO_ECDSA_P384_SHA384 = 1;
    private static final int CURVE_P384 = 2;
    /** Signature components and coordinates are stored zero-extended to 72 bytes. */
    private static final int COMPONENT_SIZE = 72;
    private static final int P384_BYTES = 48;

    private SnpIdBlock() {
    }

    /**
     * @return 0 when the firmware accepts the block, else its SEV_RET_* status
     */
    static int check(byte[] block, byte[] auth, boolean authorKeyEnabled, byte[] launchDigest, long policy) {
        if (u32(block, VERSION) != 1) return SnpFirmware.SEV_RET_INVALID_PARAM;
        if (u32(auth, ID_KEY_ALGO) != ALGO_ECDSA_P384_SHA384) return SnpFirmware.SEV_RET_INVALID_PARAM;
        byte[] idKey = Arrays.copyOfRange(auth, ID_KEY, ID_KEY + PUBLIC_KEY_SIZE);
        if (!verify(idKey, block, auth, ID_BLOCK_SIG)) return SnpFirmware.SEV_RET_BAD_SIGNATURE;
        if (authorKeyEnabled) {
            if (u32(auth, AUTH_KEY_ALGO) != ALGO_ECDSA_P384_SHA384) return SnpFirmware.SEV_RET_INVALID_PARAM;
            byte[] authorKey = Arrays.copyOfRange(auth, AUTHOR_KEY, AUTHOR_KEY + PUBLIC_KEY_SIZE);
            if (!verify(authorKey, idKey, auth, ID_KEY_SIG)) return SnpFirmware.SEV_RET_BAD_SIGNATURE;
        }
        if (!Arrays.equals(Arrays.copyOfRange(block, LD, LD + launchDigest.length), launchDigest))
            return SnpFirmware.SEV_RET_BAD_MEASUREMENT;
        if (u64(block, POLICY) != policy) return SnpFirmware.SEV_RET_POLICY_FAILURE;
        return 0;
    }

    private static boolean verify(byte[] publicKey, byte[] message, byte[] auth, int signatureAt) {
        if (u32(publicKey, 0) != CURVE_P384) return false;
        try {
            AlgorithmParameters curve = AlgorithmParameters.getInstance("EC");
            curve.init(new ECGenParameterSpec("secp384r1"));
            ECPoint point = new ECPoint(littleEndian(publicKey, 4), littleEndian(publicKey, 4 + COMPONENT_SIZE));
            PublicKey key = KeyFactory.getInstance("EC")
                    .generatePublic(new ECPublicKeySpec(point, curve.getParameterSpec(ECParameterSpec.class)));
            // r || s as two 48-byte big-endian numbers (IEEE P1363).
            byte[] rs = new byte[2 * P384_BYTES];
            if (!bigEndian(littleEndian(auth, signatureAt), rs, 0)
                    || !bigEndian(littleEndian(auth, signatureAt + COMPONENT_SIZE), rs, P384_BYTES)) return false;
            Signature ecdsa = Signature.getInstance("SHA384withECDSAinP1363Format");
            ecdsa.initVerify(key);
            ecdsa.update(message);
            return ecdsa.verify(rs);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            // A point off the curve or a malformed key is a signature that does not verify.
            return false;
        }
    }

    private static BigInteger littleEndian(byte[] b, int at) {
        byte[] be = new byte[COMPONENT_SIZE];
        for (int i = 0; i < COMPONENT_SIZE; i++) be[i] = b[at + COMPONENT_SIZE - 1 - i];
        return new BigInteger(1, be);
    }

    private static boolean bigEndian(BigInteger v, byte[] dst, int at) {
        byte[] raw = v.toByteArray();
        int start = raw.length > 1 && raw[0] == 0 ? 1 : 0;
        int len = raw.length - start;
        if (len > P384_BYTES) return false;
        System.arraycopy(raw, start, dst, at + P384_BYTES - len, len);
        return true;
    }

    private static long u32(byte[] b, int at) {
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }

    private static long u64(byte[] b, int at) {
        return u32(b, at) | u32(b, at + 4) << 32;
    }
}
