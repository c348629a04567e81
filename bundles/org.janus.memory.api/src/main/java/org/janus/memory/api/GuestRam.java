package org.janus.memory.api;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The backing of one RAM region and the state of each of its pages. It is the only way the host reaches guest
 * RAM: host access refuses private pages before touching a byte. Conversions are all-or-nothing per call: when one
 * fails, the region is as it was before the call (or, if even undoing fails, {@link #isBroken()} says so and
 * every later call fails with the original cause).
 */
@ProviderType
public interface GuestRam extends AutoCloseable {

    RamRegion region();

    /** The id of the backend that made it ({@link MemoryBackend#GUEST_MEMFD} or {@link MemoryBackend#LEGACY}). */
    String backend();

    /** Whether the region has a private face at all (false for RAM of a VM without private memory). */
    boolean hasPrivateMemory();

    /**
     * Whether the backend keeps a page's contents across a conversion (in place: yes, one page serves both faces;
     * legacy: no, the other side is another page and reads zero). This is the strategy's part only: on SEV-SNP and TDX
     * the hardware loses the contents whatever the backend does ({@link ConversionContents}).
     */
    boolean preservesContents();

    PageState stateAt(long gpa);

    /** Whether every page of [gpa, gpa+size) is in {@code state}. */
    boolean isUniform(long gpa, long size, PageState state);

    /** The runs of [gpa, gpa+size), each with its state. */
    List<PageStateMap.Run> runs(long gpa, long size);

    /** Bytes currently private. */
    long privateBytes();

    /**
     * Converts [gpa, gpa+size), which must lie in this region and be page aligned, to {@code target}. Pages already
     * in {@code target} stay as they are. Listeners are told in the order the strategy needs.
     *
     * @throws MemoryException with the step, the range and the errno; the region is then unchanged
     */
    default void convert(long gpa, long size, PageState target) { begin(gpa, size, target).commit(); }

    /**
     * The first phase of {@link #convert}: every step that can be undone is done (attributes, listeners) and the
     * pages are in their new state, but what cannot be undone (discarding the face the pages left) waits for
     * {@link PendingConversion#commit()}. A caller converting several regions at once begins all of them and
     * commits only when every one began, so that a failure in one leaves the contents of the others intact.
     *
     * @throws MemoryException as {@link #convert}; the region is then unchanged
     */
    PendingConversion begin(long gpa, long size, PageState target);

    /** A conversion between its two phases. Exactly one of commit and abort is called, once. */
    interface PendingConversion {
        /**
         * Completes the conversion: frees the faces the pages left (legacy). It does not fail: a face whose discard
         * fails stays allocated and is discarded again before its pages can turn back to it (a conversion that would
         * need it is refused, with nothing changed, while that still fails).
         */
        void commit();

        /**
         * Undoes the first phase: the region is as before the {@link #begin}.
         *
         * @throws MemoryException if undoing fails; the region is then broken, with the exact range
         */
        void abort();
    }

    /**
     * Reads guest memory as the host.
     *
     * @throws MemoryException (step HOST_ACCESS) when any page of the range is private or outside the region;
     *         nothing is read
     */
    void read(long gpa, byte[] dst, int offset, int length);

    /**
     * Writes guest memory as the host.
     *
     * @throws MemoryException (step HOST_ACCESS) when any page of the range is private or outside the region;
     *         nothing is written
     */
    void write(long gpa, byte[] src, int offset, int length);

    default byte[] read(long gpa, int length) {
        byte[] b = new byte[length];
        read(gpa, b, 0, length);
        return b;
    }

    default void write(long gpa, byte[] src) { write(gpa, src, 0, src.length); }

    void addListener(ConversionListener listener);

    void removeListener(ConversionListener listener);

    /** Allocated and resident bytes per side, measured now. */
    MemoryFigures figures();

    /** True once a failed conversion could not be undone; the VM must stop. */
    boolean isBroken();

    /**
     * Hands this RAM over for a newer version of its backend to {@link MemoryBackend#adopt adopt}: everything it
     * is, as API and JDK values. It stays usable until {@link #relinquish()}; the caller makes sure that nothing
     * converts or accesses it between the two (the machine holds its conversion lock and parks its vCPUs).
     */
    RamHandover handOver();

    /**
     * After a successful adoption, gives up the backing without releasing it (the adopter owns it now): every later
     * call fails, and {@link #close()} releases nothing. Also used on an adopter whose adoption is given up.
     */
    void relinquish();

    /** Deletes the memslot and releases every mapping and file. Idempotent. */
    @Override void close();
}
