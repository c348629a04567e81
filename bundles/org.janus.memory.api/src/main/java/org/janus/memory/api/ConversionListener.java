package org.janus.memory.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A user of shared guest memory that holds its own references to it, such as a device doing DMA: it must map
 * ranges that become shared and drop its mappings and pins on ranges that become private. In place, the drop
 * must come <em>before</em> the conversion, or the kernel refuses it (EAGAIN). A listener may refuse; the
 * conversion is then undone and the guest told.
 */
@ConsumerType
public interface ConversionListener {

    /**
     * [gpa, gpa+size) is about to become private: release every mapping and pin on it. If the conversion then
     * fails, {@link #shared} is called for the same range, so the listener can map it again.
     *
     * @throws Exception to refuse; the conversion does not happen
     */
    void privatising(GuestRam ram, long gpa, long size) throws Exception;

    /**
     * [gpa, gpa+size) has become shared (or is shared again after a failed conversion to private).
     *
     * @throws Exception to refuse; the range is converted back to private
     */
    void shared(GuestRam ram, long gpa, long size) throws Exception;
}
