package org.janus.machine.internal;

import static org.janus.machine.internal.SimMachine.G;
import static org.janus.machine.internal.SimMachine.M;
import static org.janus.machine.internal.SimMachine.P;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Hypercalls;
import org.janus.kvm.api.VcpuExit;
import org.janus.memory.api.GpaRange;
import org.janus.memory.api.PageState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Strict decoding of memory faults and MAP_GPA_RANGE hypercalls: what is not exactly meant is Invalid. */
class ConversionRequestTest {
    private static final long ENC = Hypercalls.MAP_GPA_RANGE_ENCRYPTED;

    private static ConversionRequest call(long gpa, long npages, long attrs) {
        return ConversionRequest.fromMapGpaRange(SimMachine.mapGpaRange(gpa, npages, attrs));
    }

    private static ConversionRequest.Convert convert(ConversionRequest r) {
        return assertInstanceOf(ConversionRequest.Convert.class, r);
    }

    private static String invalid(ConversionRequest r) {
        return assertInstanceOf(ConversionRequest.Invalid.class, r).reason();
    }

    @Test
    void aMemoryFaultAsksForTheStateOfItsAccess() {
        ConversionRequest.Convert c = convert(ConversionRequest.fromMemoryFault(SimMachine.fault(3 * P, P, 8)));
        assertEquals(new ConversionRequest.Convert(GpaRange.of(3 * P, P), PageState.PRIVATE, ConversionRequest.Source.MEMORY_FAULT), c);
        c = convert(ConversionRequest.fromMemoryFault(SimMachine.fault(3 * P, 2 * M, 0)));
        assertEquals(PageState.SHARED, c.target());
        assertEquals(2 * M, c.range().size());
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 4, 16, 1L << 63, 8 | 1, 8 | (1L << 40)})
    void aMemoryFaultWithUnknownFlagsIsInvalid(long flags) {
        assertTrue(invalid(ConversionRequest.fromMemoryFault(SimMachine.fault(0, P, flags))).contains("unknown flags"));
    }

    @ParameterizedTest
    @CsvSource({"1, 4096", "4095, 4096", "0, 0", "0, 2048", "4096, -4096", "-4096, 8192", "9223372036854771712, 8192"})
    void aMisalignedEmptyOrWrappingFaultIsInvalid(long gpa, long size) {
        invalid(ConversionRequest.fromMemoryFault(SimMachine.fault(gpa, size, 8)));
    }

    @Test
    void mapGpaRangeDecodesPagesAndTheEncryptedBit() {
        ConversionRequest.Convert c = convert(call(5 * P, 3, ENC));
        assertEquals(new ConversionRequest.Convert(GpaRange.of(5 * P, 3 * P), PageState.PRIVATE, ConversionRequest.Source.MAP_GPA_RANGE), c);
        assertEquals(PageState.SHARED, convert(call(5 * P, 3, 0)).target());
        assertEquals(GpaRange.of(2 * M, 4 * M), convert(call(2 * M, 1024, ENC | Hypercalls.MAP_GPA_RANGE_PAGE_SZ_2M)).range());
        assertEquals(GpaRange.of(G, G), convert(call(G, G / P, Hypercalls.MAP_GPA_RANGE_PAGE_SZ_1G)).range());
    }

    @ParameterizedTest
    @CsvSource({
            "1, 4096, 512", "1, 0, 511", "1, 0, 513", "1, 6291456, 256",   // 2M: gpa or size not 2M aligned
            "2, 2097152, 262144", "2, 0, 131072", "2, 1073741824, 262145"})  // 1G likewise
    void aRangeMustBeAlignedToThePageSizeItNames(long code, long gpa, long npages) {
        assertTrue(invalid(call(gpa, npages, code | ENC)).contains("not aligned"));
    }

    static IntStream reservedBits() { return IntStream.range(5, 64); }

    @ParameterizedTest
    @MethodSource("reservedBits")
    void anyReservedAttributeBitMakesItInvalid(int bit) {
        assertTrue(invalid(call(0, 1, ENC | (1L << bit))).contains("reserved"));
    }

    @ParameterizedTest
    @ValueSource(longs = {3, 4, 7, 15})
    void anUnknownPageSizeCodeIsInvalid(long code) {
        assertTrue(invalid(call(0, 512, code)).contains("page size code"));
    }

    @ParameterizedTest
    @ValueSource(longs = {0, -1, Long.MIN_VALUE, 1L << 62})
    void npagesZeroOrBeyondTheAddressSpaceIsInvalid(long npages) {
        invalid(call(0, npages, ENC));
    }

    @Test
    void aRangeThatWrapsOrStartsBeyondTheAddressSpaceIsInvalid() {
        assertTrue(invalid(call(-P, 2, 0)).contains("overflows"));
        assertTrue(invalid(call(Long.MAX_VALUE & -P, 2, 0)).contains("overflows"));
        invalid(call(3, 1, 0));
    }

    @Test
    void anotherHypercallIsNotAConversion() {
        VcpuExit.Hypercall h = new VcpuExit.Hypercall(11, new long[] {0, 1, 0, 0, 0, 0}, 1);
        assertTrue(invalid(ConversionRequest.fromMapGpaRange(h)).contains("not KVM_HC_MAP_GPA_RANGE"));
    }

    @Test
    void aPlatformRequestIsCheckedLikeTheOthers() {
        assertEquals(ConversionRequest.Source.PLATFORM, convert(ConversionRequest.fromPlatform(P, P, PageState.PRIVATE)).source());
        assertEquals(ConversionRequest.Source.PLATFORM, assertInstanceOf(ConversionRequest.Invalid.class,
                ConversionRequest.fromPlatform(1, P, PageState.PRIVATE)).source());
    }

    @Test
    void anInvalidRequestIsAnsweredEinvalWithoutTouchingTheMap() {
        ConversionEngine engine = new ConversionEngine(new GuestMemoryMap(List.of(), List.of()));
        ConversionOutcome o = engine.handle(call(0, 0, 0));
        assertEquals(Errno.EINVAL, assertInstanceOf(ConversionOutcome.Refused.class, o).guestAnswer());
    }
}
