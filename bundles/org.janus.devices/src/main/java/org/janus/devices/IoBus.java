package org.janus.devices;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.janus.kvm.api.ExitReason;
import org.janus.kvm.api.VcpuExit;

/**
 * The x86 port I/O space of one VM: ranges of ports, each claimed by one {@link PortDevice}, and the one place a
 * {@link VcpuExit.Io} exit is answered. A port nobody claims reads all ones and ignores writes, as an ISA bus with
 * nothing on it does; such accesses are counted, and only the first {@value #LOGGED_UNCLAIMED} are logged, so a guest
 * probing (or hammering) empty ports cannot flood the log.
 *
 * <p>Thread-safe: vCPU threads dispatch concurrently without a lock (the registrations are an immutable snapshot
 * swapped on change); each device guards its own state. Registrations are normally all made before the first vCPU
 * runs, but may change at any time.
 */
public final class IoBus {
    /** Ports 0 to 0xffff. */
    public static final int PORTS = 0x10000;
    /**
     * The most bytes one exit carries: KVM passes string I/O through the one-page PIO area of kvm_run, so {@code size *
     * count} never exceeds a page.
     */
    public static final int MAX_TRANSFER = 4096;
    /** How many unclaimed accesses are logged, each as one line; later ones are only counted. */
    public static final int LOGGED_UNCLAIMED = 16;

    private static final System.Logger LOG = System.getLogger(IoBus.class.getName());

    /** A claimed range [base, base + length). */
    public record Registration(int base, int length, String name) {
        public int end() { return base + length; }

        boolean overlaps(int otherBase, int otherLength) { return otherBase < end() && base < otherBase + otherLength; }

        @Override public String toString() {
            return "ports " + hex(base) + "-" + hex(end() - 1) + " (" + name + ")";
        }
    }

    private record Entry(Registration registration, PortDevice device) {}

    private final Consumer<String> log;
    private final Object registering = new Object();
    /** Sorted by base, never overlapping; replaced whole on every change. */
    private volatile Entry[] entries = new Entry[0];
    private final AtomicLong unclaimed = new AtomicLong();
    private final AtomicInteger logged = new AtomicInteger();

    /** A bus that logs unclaimed accesses through {@link System.Logger} at INFO. */
    public IoBus() { this(line -> LOG.log(System.Logger.Level.INFO, line)); }

    /** A bus that hands each log line (unclaimed accesses) to {@code log}. */
    public IoBus(Consumer<String> log) { this.log = Objects.requireNonNull(log, "log"); }

    /**
     * Claims [base, base + length) for {@code device}, which then sees offsets from {@code base}.
     *
     * @throws IllegalArgumentException for a range outside 0-0xffff, an empty name, or a range overlapping one
     *         registered already (the message names both); nothing changes then
     */
    public void register(int base, int length, String name, PortDevice device) {
        Objects.requireNonNull(device, "device");
        if (name == null || name.isBlank()) throw new IllegalArgumentException("a device on the I/O bus needs a name");
        if (base < 0 || length < 1 || base + length > PORTS || base + length < 0)
            throw new IllegalArgumentException(name + ": ports " + hex(base) + " + " + length
                    + " are not a non-empty range within 0x0-0xffff");
        synchronized (registering) {
            Entry[] current = entries;
            for (Entry e : current) {
                if (e.registration.overlaps(base, length))
                    throw new IllegalArgumentException(name + ": ports " + hex(base) + "-" + hex(base + length - 1)
                            + " overlap " + e.registration + ", registered already");
            }
            Entry[] next = Arrays.copyOf(current, current.length + 1);
            next[current.length] = new Entry(new Registration(base, length, name), device);
            Arrays.sort(next, (a, b) -> Integer.compare(a.registration.base, b.registration.base));
            entries = next;
        }
    }

    /**
     * Releases the range registered at {@code base}.
     *
     * @return whether a range started there
     */
    public boolean unregister(int base) {
        synchronized (registering) {
            Entry[] current = entries;
            for (int i = 0; i < current.length; i++) {
                if (current[i].registration.base == base) {
                    Entry[] next = new Entry[current.length - 1];
                    System.arraycopy(current, 0, next, 0, i);
                    System.arraycopy(current, i + 1, next, i, current.length - i - 1);
                    entries = next;
                    return true;
                }
            }
            return false;
        }
    }

    /** The claimed ranges, by base. */
    public List<Registration> registrations() {
        List<Registration> list = new ArrayList<>();
        for (Entry e : entries) list.add(e.registration);
        return List.copyOf(list);
    }

    /** The range that claims {@code port}, if any. */
    public Optional<Registration> claimant(int port) {
        Entry e = find(entries, port);
        return e == null ? Optional.empty() : Optional.of(e.registration);
    }

    /**
     * Carries out a port I/O exit. An OUT hands each of the {@code count} elements of {@code size} bytes (string I/O,
     * REP OUTS) to the device in order; an IN reads {@code count} elements and returns them, to be given to the vCPU
     * with {@link org.janus.kvm.api.KvmVcpu#completeIo(byte[])}. The device is the one claiming the exit's port; an
     * access of several bytes goes to it whole, even where it reaches past the claimed range, as on the ISA bus.
     *
     * @return for an IN, {@code size * count} bytes, little-endian per element; for an OUT, an empty array
     * @throws IllegalArgumentException for an exit KVM cannot produce: a size other than 1, 2 or 4, a count below 1,
     *         more than {@value #MAX_TRANSFER} bytes, a port outside 0-0xffff, an unknown direction, or OUT data of the
     *         wrong length; no device sees it then
     */
    public byte[] dispatch(VcpuExit.Io io) {
        int size = io.size();
        int count = io.count();
        int port = io.port();
        if (size != 1 && size != 2 && size != 4)
            throw new IllegalArgumentException("port I/O exit at " + hex(port) + ": size " + size + " is not 1, 2 or 4");
        if (count < 1 || (long) size * count > MAX_TRANSFER)
            throw new IllegalArgumentException("port I/O exit at " + hex(port) + ": count " + count + " of " + size
                    + " bytes is not 1 to " + MAX_TRANSFER / size + " elements");
        if (port < 0 || port >= PORTS) throw new IllegalArgumentException("port I/O exit at " + port + ": no such port");
        boolean out = io.direction() == ExitReason.IO_OUT;
        if (!out && io.direction() != ExitReason.IO_IN)
            throw new IllegalArgumentException("port I/O exit at " + hex(port) + ": direction " + io.direction()
                    + " is neither in (0) nor out (1)");
        byte[] data = out ? io.data() : null;
        if (out && data.length != size * count)
            throw new IllegalArgumentException("port I/O exit at " + hex(port) + ": " + data.length + " bytes of data for "
                    + count + " x " + size);

        Entry e = find(entries, port);
        if (e == null) return unclaimed(out, port, size, count);
        int offset = port - e.registration.base;
        if (out) {
            for (int i = 0; i < count; i++) e.device.write(offset, size, littleEndian(data, i * size, size));
            return new byte[0];
        }
        byte[] in = new byte[size * count];
        for (int i = 0; i < count; i++) putLittleEndian(in, i * size, size, e.device.read(offset, size));
        return in;
    }

    /** How many exits reached a port nobody claims. */
    public long unclaimedAccesses() { return unclaimed.get(); }

    private byte[] unclaimed(boolean out, int port, int size, int count) {
        unclaimed.incrementAndGet();
        int n = logged.get();
        if (n <= LOGGED_UNCLAIMED && logged.compareAndSet(n, n + 1)) {
            if (n < LOGGED_UNCLAIMED) {
                log.accept("unclaimed port " + (out ? "write" : "read") + " at " + hex(port) + " (" + size + " byte"
                        + (size == 1 ? "" : "s") + (count > 1 ? " x " + count : "") + ")"
                        + (out ? ": ignored" : ": reads all ones"));
            } else {
                log.accept("more unclaimed port accesses: counted, no longer logged");
            }
        }
        if (out) return new byte[0];
        byte[] ones = new byte[size * count];
        Arrays.fill(ones, (byte) 0xff);
        return ones;
    }

    /** Binary search for the entry whose range holds {@code port}. */
    private static Entry find(Entry[] sorted, int port) {
        int lo = 0;
        int hi = sorted.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Registration r = sorted[mid].registration;
            if (port < r.base) hi = mid - 1;
            else if (port >= r.end()) lo = mid + 1;
            else return sorted[mid];
        }
        return null;
    }

    static long littleEndian(byte[] b, int from, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) v = (v << 8) | (b[from + i] & 0xff);
        return v;
    }

    static void putLittleEndian(byte[] b, int from, int size, long value) {
        for (int i = 0; i < size; i++) b[from + i] = (byte) (value >>> (8 * i));
    }

    static String hex(int port) { return "0x" + Integer.toHexString(port); }
}
