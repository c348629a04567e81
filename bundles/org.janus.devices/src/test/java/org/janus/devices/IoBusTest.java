package org.janus.devices;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.VcpuExit;
import org.junit.jupiter.api.Test;

class IoBusTest {

    /** Records every access; reads answer {@code offset * 0x10 + index of the read}. */
    static final class Recorder implements PortDevice {
        final List<String> accesses = Collections.synchronizedList(new ArrayList<>());
        final AtomicLong reads = new AtomicLong();

        @Override public long read(int offset, int size) {
            accesses.add("r" + offset + "/" + size);
            return offset * 0x10L + reads.getAndIncrement();
        }

        @Override public void write(int offset, int size, long value) {
            accesses.add("w" + offset + "/" + size + "=" + Long.toHexString(value));
        }
    }

    @Test
    void aDeviceSeesOffsetsFromItsBaseAndStringIoElementByElement() {
        IoBus bus = new IoBus(line -> { });
        Recorder dev = new Recorder();
        bus.register(0x3f8, 8, "uart", dev);
        assertEquals(0, bus.dispatch(Exits.out(0x3fb, 1, 0x83)).length);
        bus.dispatch(Exits.outs(0x3f8, 2, new byte[] {1, 2, 3, 4, 5, 6}));
        byte[] in = bus.dispatch(Exits.ins(0x3f9, 4, 3));
        assertEquals(List.of("w3/1=83", "w0/2=201", "w0/2=403", "w0/2=605", "r1/4", "r1/4", "r1/4"), dev.accesses);
        assertArrayEquals(new byte[] {0x10, 0, 0, 0, 0x11, 0, 0, 0, 0x12, 0, 0, 0}, in);
        assertEquals(0, bus.unclaimedAccesses());
    }

    @Test
    void unclaimedPortsReadAllOnesIgnoreWritesAndLogABoundedNumberOfLines() {
        List<String> log = new ArrayList<>();
        IoBus bus = new IoBus(log::add);
        assertArrayEquals(new byte[] {-1, -1, -1, -1, -1, -1}, bus.dispatch(Exits.ins(0x2f8, 2, 3)));
        assertEquals(0, bus.dispatch(Exits.out(0x2f8, 1, 0)).length);
        for (int i = 0; i < 10_000; i++) bus.dispatch(Exits.in(0x100 + i % 50, 1));
        assertEquals(10_002, bus.unclaimedAccesses());
        assertEquals(IoBus.LOGGED_UNCLAIMED + 1, log.size(), "one line per logged access and one saying the rest are counted");
        assertEquals("unclaimed port read at 0x2f8 (2 bytes x 3): reads all ones", log.get(0));
        assertEquals("unclaimed port write at 0x2f8 (1 byte): ignored", log.get(1));
        assertTrue(log.get(IoBus.LOGGED_UNCLAIMED).contains("no longer logged"), log.get(IoBus.LOGGED_UNCLAIMED));
    }

    @Test
    void overlappingOrOutOfRangeRegistrationsAreRefusedAndChangeNothing() {
        IoBus bus = new IoBus(line -> { });
        bus.register(0x3f8, 8, "com1", new Recorder());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> bus.register(0x3fc, 2, "other", new Recorder()));
        assertEquals("other: ports 0x3fc-0x3fd overlap ports 0x3f8-0x3ff (com1), registered already", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x3f0, 9, "below", new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0xfffe, 3, "past", new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(-1, 1, "negative", new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x10, 0, "empty", new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x10, 1, " ", new Recorder()));
        assertEquals(List.of(new IoBus.Registration(0x3f8, 8, "com1")), bus.registrations());
        bus.register(0x3f0, 8, "adjacent", new Recorder());
        bus.register(0x400, 1, "after", new Recorder());
        assertEquals(3, bus.registrations().size());
        assertTrue(bus.unregister(0x3f0));
        assertEquals(Optional.empty(), bus.claimant(0x3f0));
    }

    @Test
    void exitsKvmCannotProduceAreRefusedBeforeAnyDeviceSeesThem() {
        IoBus bus = new IoBus(line -> { });
        Recorder dev = new Recorder();
        bus.register(0, IoBus.PORTS, "everything", dev);
        assertThrows(IllegalArgumentException.class, () -> bus.dispatch(new VcpuExit.Io(ExitReason.IO_OUT, 3, 0x10, 1, new byte[3])));
        assertThrows(IllegalArgumentException.class, () -> bus.dispatch(new VcpuExit.Io(ExitReason.IO_IN, 1, 0x10, 0, new byte[0])));
        assertThrows(IllegalArgumentException.class, () -> bus.dispatch(new VcpuExit.Io(ExitReason.IO_OUT, 2, 0x10, 2, new byte[3])));
        assertThrows(IllegalArgumentException.class, () -> bus.dispatch(new VcpuExit.Io(ExitReason.IO_IN, 4, 0x10, 1025, new byte[0])));
        assertThrows(IllegalArgumentException.class, () -> bus.dispatch(new VcpuExit.Io(ExitReason.IO_IN, 1, 0x10000, 1, new byte[0])));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> bus.dispatch(new VcpuExit.Io(7, 1, 0x10, 1, new byte[1])));
        assertEquals("port I/O exit at 0x10: direction 7 is neither in (0) nor out (1)", e.getMessage());
        assertEquals(List.of(), dev.accesses);
        assertEquals(4096, bus.dispatch(Exits.ins(0x10, 4, 1024)).length, "a full PIO page is allowed");
    }

    @Test
    void theClaimantOfEveryPortMatchesALinearScanOverRandomRanges() {
        Random random = new Random(12);
        IoBus bus = new IoBus(line -> { });
        List<IoBus.Registration> made = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            int base = random.nextInt(IoBus.PORTS - 64);
            int length = 1 + random.nextInt(64);
            try {
                bus.register(base, length, "d" + i, new Recorder());
                made.add(new IoBus.Registration(base, length, "d" + i));
            } catch (IllegalArgumentException overlap) {
                assertTrue(made.stream().anyMatch(r -> base < r.end() && r.base() < base + length), overlap.getMessage());
            }
        }
        for (int port = 0; port < IoBus.PORTS; port++) {
            int p = port;
            Optional<IoBus.Registration> expected = made.stream().filter(r -> p >= r.base() && p < r.end()).findFirst();
            assertEquals(expected, bus.claimant(port), "port " + port);
        }
    }

    @Test
    void severalVcpusDispatchConcurrentlyAndEveryAccessArrivesOnce() throws Exception {
        IoBus bus = new IoBus(line -> { });
        AtomicLong sum = new AtomicLong();
        AtomicLong writes = new AtomicLong();
        bus.register(0x80, 1, "counter", new PortDevice() {
            @Override public long read(int offset, int size) { return 0; }

            @Override public void write(int offset, int size, long value) {
                sum.addAndGet(value);
                writes.incrementAndGet();
            }
        });
        int threads = 4;
        int each = 20_000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int value = t + 1;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        bus.dispatch(Exits.out(0x80, 1, value));
                        if (i % 1000 == 0 && i / 1000 < 8) bus.register(0x1000 + value * 0x10 + i / 1000, 1, "t" + value + "-" + i, new Recorder());
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertEquals((long) threads * each, writes.get());
        assertEquals((long) each * (1 + 2 + 3 + 4), sum.get());
        assertEquals(0, bus.unclaimedAccesses());
        assertEquals(1 + threads * 8, bus.registrations().size());
    }
}
