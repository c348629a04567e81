package org.janus.kvm.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.GuestMemfd;
import org.janus.kvm.api.HostMapping;
import org.janus.kvm.api.HostMemfd;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmCap;
import org.janus.kvm.api.KvmException;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.KvmVm;
import org.janus.kvm.api.MemoryFile;
import org.janus.kvm.api.VmType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Base of every conformance class: each subclass runs once per {@link KvmTarget}. It opens a fresh provider per test,
 * closes everything the test created (in reverse order), and offers the probes the cases are chosen by.
 */
@ParameterizedClass(name = "{0}")
@MethodSource("org.janus.kvm.conformance.KvmTargets#targets")
abstract class KvmTargetTest {

    @Parameter KvmTarget target;

    Kvm kvm;
    /** The host page size: guest_memfd sizes, offsets and attribute ranges are multiples of it. */
    long page;

    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private final Map<Long, VmCaps> capsByType = new LinkedHashMap<>();
    private List<Long> vmTypes;

    @BeforeEach
    void openTarget() {
        kvm = target.open();
        page = kvm.pageSize();
    }

    @AfterEach
    void closeTarget() throws Exception {
        Exception first = null;
        while (!opened.isEmpty()) {
            try {
                opened.pop().close();
            } catch (Exception e) {
                if (first == null) first = e;
            }
        }
        KvmTarget.close(kvm);
        if (first != null) throw first;
    }

    /** Closes {@code resource} after the test, before anything opened earlier. */
    <T extends AutoCloseable> T keep(T resource) {
        opened.push(resource);
        return resource;
    }

    KvmVm createVm(long type) { return keep(kvm.createVm(type)); }

    GuestMemfd createGmem(KvmVm vm, long size, long flags) { return keep(vm.createGuestMemfd(size, flags)); }

    HostMemfd createMemfd(long size) { return keep(kvm.memfdCreate("conformance", size)); }

    HostMapping map(MemoryFile file, long offset, long length) { return keep(file.mmap(offset, length, true)); }

    KvmVcpu createVcpu(KvmVm vm, int id) { return keep(vm.createVcpu(id)); }

    // ---- probes (reference §10) ----

    /** x86: only x86 KVM reports KVM_CAP_SET_TSS_ADDR. */
    boolean isX86() { return kvm.checkExtension(KvmCap.SET_TSS_ADDR) > 0; }

    /** arm64: only arm64 KVM reports KVM_CAP_ARM_VM_IPA_SIZE (the largest IPA size). */
    boolean isArm64() { return kvm.checkExtension(KvmCap.ARM_VM_IPA_SIZE) > 0; }

    /** KVM_CAP_VM_TYPES; where it is absent only the default type exists (guest_memfd_test.c main()). */
    long vmTypesMask() {
        long mask = Integer.toUnsignedLong(kvm.checkExtension(KvmCap.VM_TYPES));
        return mask == 0 ? 1L << VmType.DEFAULT : mask;
    }

    /** Every VM type this host creates: the VM_TYPES bits, plus the arm64 protected type where pKVM accepts it. */
    List<Long> vmTypes() {
        if (vmTypes != null) return vmTypes;
        List<Long> types = new ArrayList<>();
        long mask = vmTypesMask();
        for (int bit = 0; bit < 64; bit++) if ((mask & (1L << bit)) != 0) types.add((long) bit);
        if (isArm64()) {
            try (KvmVm protectedVm = kvm.createVm(VmType.ARM_PROTECTED)) {
                types.add(protectedVm.type());
            } catch (KvmException e) {
                if (!e.is(Errno.EINVAL)) throw e;
            }
        }
        vmTypes = List.copyOf(types);
        return vmTypes;
    }

    /** The VM-scope answers of {@code type}, probed on a VM created for the purpose. */
    VmCaps caps(long type) {
        return capsByType.computeIfAbsent(type, t -> {
            try (KvmVm vm = kvm.createVm(t)) {
                return VmCaps.probe(vm);
            }
        });
    }

    List<VmCaps> allCaps() { return vmTypes().stream().map(this::caps).toList(); }

    /** The first VM type whose answers satisfy {@code wanted}, preferring {@code preferred}. */
    Optional<VmCaps> findType(long preferred, Predicate<VmCaps> wanted) {
        if (vmTypes().contains(preferred) && wanted.test(caps(preferred))) return Optional.of(caps(preferred));
        return allCaps().stream().filter(wanted).findFirst();
    }

    /** As {@link #findType}, skipping the test with {@code reason} (and the host's answers) where no type fits. */
    VmCaps requireType(long preferred, Predicate<VmCaps> wanted, String reason) {
        Optional<VmCaps> found = findType(preferred, wanted);
        assumeTrue(found.isPresent(), () -> reason + " (" + describeTypes() + ")");
        return found.get();
    }

    String describeTypes() {
        StringBuilder b = new StringBuilder("VM_TYPES=0x" + Long.toHexString(vmTypesMask()));
        for (VmCaps c : allCaps()) b.append("; ").append(c);
        return b.toString();
    }

    // ---- assertions ----

    /** Runs {@code call}, which must fail with exactly {@code errno}; returns the exception for further checks. */
    static KvmException expectErrno(int errno, String what, Executable call) {
        KvmException e = assertThrows(KvmException.class, call, () -> what + ": expected " + Errno.name(errno));
        assertEquals(Errno.name(errno), Errno.name(e.errno()), () -> what + ": " + e.getMessage());
        return e;
    }

    /** Fails unless every byte of {@code actual} is {@code (byte) expected}; names the first that is not. */
    static void assertFilled(int expected, byte[] actual, String what) {
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] != (byte) expected) {
                fail(what + ": expected every byte 0x" + Integer.toHexString(expected & 0xff) + ", byte " + i
                        + " is 0x" + Integer.toHexString(actual[i] & 0xff));
            }
        }
    }

    static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }

    byte[] pageOf(int value) { return filled((int) page, value); }
}
