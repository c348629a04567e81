package org.janus.platform.snp.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.UUID;

/**
 * Reads and writes GUIDs as firmware stores them (EFI_GUID): the first three fields little-endian, the last eight
 * bytes in order. {@code 96b582de-1fb2-45f7-...} is therefore stored as {@code de 82 b5 96 b2 1f f7 45 ...}.
 */
final class EfiGuid {
    static final int SIZE = 16;

    private EfiGuid() {
    }

    static UUID read(byte[] data, int offset) {
        ByteBuffer le = ByteBuffer.wrap(data, offset, SIZE).order(ByteOrder.LITTLE_ENDIAN);
        long timeLow = Integer.toUnsignedLong(le.getInt());
        long timeMid = Short.toUnsignedLong(le.getShort());
        long timeHigh = Short.toUnsignedLong(le.getShort());
        long low = le.order(ByteOrder.BIG_ENDIAN).getLong();
        return new UUID(timeLow << 32 | timeMid << 16 | timeHigh, low);
    }

    static byte[] bytes(UUID guid) {
        long high = guid.getMostSignificantBits();
        return ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putInt((int) (high >>> 32)).putShort((short) (high >>> 16)).putShort((short) high)
                .order(ByteOrder.BIG_ENDIAN).putLong(guid.getLeastSignificantBits())
                .array();
    }
}
