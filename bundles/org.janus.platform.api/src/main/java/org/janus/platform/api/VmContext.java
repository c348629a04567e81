package org.janus.platform.api;

import java.util.List;
import java.util.Map;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.memory.api.ConversionContents;
import org.janus.memory.api.PageState;
import org.osgi.annotation.versioning.ProviderType;

/**
 * One VM as the machine shows it to its platform. It outlives any platform bundle: {@link #platformState()} is
 * where a platform keeps what it must remember about the VM, so that a replacement bundle finds it there.
 */
@ProviderType
public interface VmContext {

    String name();

    Kvm kvm();

    KvmVm vm();

    PlatformSpec spec();

    /** The vCPUs created so far, in id order. */
    List<KvmVcpu> vcpus();

    /**
     * Whether the memory strategy converts in place, one page serving both faces (the host writes a launch payload
     * into shared pages and converts them to private for the firmware to take where they are), or not (legacy: the
     * private face is another page, so a payload goes to the firmware from a separate buffer).
     */
    boolean convertsInPlace();

    /**
     * What a page reads after a conversion in this VM: the memory strategy ({@link #convertsInPlace()}) combined with
     * the platform's hardware ({@link ConfidentialPlatform#keepsPlaintextAcrossConversion()}). By default the strategy
     * alone, for contexts that know no platform.
     */
    default ConversionContents conversionContents() { return ConversionContents.of(convertsInPlace(), true); }

    /** Host access to guest RAM: writes while the range is shared (e.g. loading an image before converting it). */
    void writeGuest(long gpa, byte[] data);

    byte[] readGuest(long gpa, int length);

    /**
     * Converts [gpa, gpa+size) through the machine's conversion engine, as any guest request would be.
     *
     * @throws PlatformException when the conversion is refused or fails: without a cause when it was refused and
     *         nothing changed (the guest can be told no), with the cause when a failure could not be undone and the VM
     *         must stop
     */
    void convert(long gpa, long size, PageState target);

    /** Whether every page of [gpa, gpa+size) is in {@code state}. */
    boolean isUniform(long gpa, long size, PageState state);

    /** Per-VM state owned by the machine, for the platform's own use; survives a platform bundle's replacement. */
    Map<String, Object> platformState();

    /** A line for the VM's log. */
    void log(String message);
}
