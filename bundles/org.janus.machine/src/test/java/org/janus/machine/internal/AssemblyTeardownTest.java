package org.janus.machine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.janus.kvm.api.Errno;
import org.janus.kvm.api.Kvm;
import org.janus.kvm.api.KvmVcpu;
import org.janus.kvm.api.VcpuExit;
import org.janus.kvm.sim.SimKvm;
import org.janus.kvm.sim.SimProfile;
import org.janus.machine.MachineException;
import org.janus.machine.MachineException.Step;
import org.janus.machine.RunSummary;
import org.janus.memory.api.PageState;
import org.janus.platform.api.ConfidentialPlatform;
import org.janus.platform.api.LaunchResult;
import org.janus.platform.api.PlatformException;
import org.janus.platform.api.PlatformSpec;
import org.janus.platform.api.VmContext;
import org.janus.platform.swprotected.internal.SwProtectedPlatform;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A VM whose building fails at each step in turn (a KVM error injected into the software KVM, or a platform or
 * guest program that fails) is torn down completely: the failure names the step, and afterwards no vCPU or guest
 * thread, file descriptor or memfd mapping of it is left, and the host builds and runs the same VM fine.
 */
class AssemblyTeardownTest {
    static final String RAM = "{ \"name\": \"low\", \"gpa\": 0, \"size\": \"8M\" }, { \"name\": \"high\", \"gpa\": \"16M\", \"size\": \"8M\" }";
    static final String MMIO = "{ \"name\": \"dev\", \"gpa\": \"12M\", \"size\": \"4K\" }";

    /** A software-protected platform that fails at one of its steps. */
    record FailingPlatform(String failAt) implements ConfidentialPlatform {
        static final SwProtectedPlatform REAL = new SwProtectedPlatform();

        private void maybeFail(String step) {
            if (step.equals(failAt)) throw new PlatformException(id(), step, "refused by the test platform", null);
        }

        @Override public String id() { return REAL.id(); }
        @Override public long vmType(Kvm kvm) { return REAL.vmType(kvm); }
        @Override public Support support(Kvm kvm) { return REAL.support(kvm); }
        @Override public PageState initialRamState() { return REAL.initialRamState(); }
        @Override public List<Problem> validate(PlatformSpec spec) { return REAL.validate(spec); }
        @Override public void initVm(VmContext c) { maybeFail("initVm"); REAL.initVm(c); }
        @Override public void initVcpu(VmContext c, KvmVcpu v) { if (v.id() == 1) maybeFail("initVcpu"); REAL.initVcpu(c, v); }
        @Override public LaunchResult launch(VmContext c) {
            // Launching touches guest memory through the context, as a real launch would, before failing.
            c.convert(0, 4096, PageState.SHARED);
            c.writeGuest(0, new byte[] {1, 2, 3});
            maybeFail("launch");
            return REAL.launch(c);
        }
        @Override public ExitAction onExit(VmContext c, KvmVcpu v, VcpuExit e) { return REAL.onExit(c, v, e); }
        @Override public Optional<byte[]> expectedMeasurement(PlatformSpec spec) { return Optional.empty(); }
    }

    @BeforeAll
    static void warmUp() throws Exception {
        SimKvm kvm = Machines.sim(SimProfile.INPLACE);
        VmManagerImpl m = manager(kvm, null, false);
        String id = m.create(SpecReader.read(spec("inplace"), null));
        m.start(id);
        m.awaitEnd(id, Duration.ofSeconds(30));
    }

    static String spec(String profile) { return Machines.spec(profile, "sw-protected", "auto", RAM, MMIO, 2, "halt"); }

    static VmManagerImpl manager(SimKvm kvm, String platformFailsAt, boolean guestFails) {
        ServiceDirectory s = Machines.services(kvm).addGuest("halt", new Machines.TestGuest(c -> {
            if (guestFails && c.vcpuId() == 1) throw new IllegalStateException("no program for vcpu 1");
            return cpu -> cpu.hlt();
        }));
        if (platformFailsAt != null) s.addPlatform(ConfidentialPlatform.SW_PROTECTED, new FailingPlatform(platformFailsAt), 10);
        return new VmManagerImpl(s);
    }

    /** profile, injected operation (or null), errno, calls let through first, platform failure, guest failure, step. */
    static Stream<Arguments> faults() {
        return Stream.of(
                // Validation's probe VM is the first KVM_CREATE_VM.
                Arguments.of("inplace", "KVM_CREATE_VM", Errno.ENOMEM, 1, null, false, Step.CREATE_VM),
                Arguments.of("inplace", "KVM_ENABLE_CAP", Errno.EINVAL, 0, null, false, Step.INIT_VM),
                Arguments.of("inplace", null, 0, 0, "initVm", false, Step.INIT_VM),
                Arguments.of("inplace", "KVM_CREATE_GUEST_MEMFD", Errno.ENOMEM, 1, null, false, Step.CREATE_RAM),
                Arguments.of("inplace", "KVM_SET_USER_MEMORY_REGION2", Errno.ENOMEM, 1, null, false, Step.CREATE_RAM),
                Arguments.of("inplace", "KVM_SET_MEMORY_ATTRIBUTES2", Errno.ENOMEM, 1, null, false, Step.CREATE_RAM),
                Arguments.of("7.3", "KVM_CREATE_GUEST_MEMFD", Errno.ENOMEM, 1, null, false, Step.CREATE_RAM),
                Arguments.of("7.3", "KVM_SET_MEMORY_ATTRIBUTES", Errno.ENOMEM, 1, null, false, Step.CREATE_RAM),
                Arguments.of("inplace", "KVM_CREATE_VCPU", Errno.ENOMEM, 1, null, false, Step.CREATE_VCPU),
                Arguments.of("inplace", null, 0, 0, "initVcpu", false, Step.INIT_VCPU),
                Arguments.of("7.3", null, 0, 0, null, true, Step.LOAD_GUEST),
                Arguments.of("inplace", null, 0, 0, "launch", false, Step.LAUNCH),
                Arguments.of("7.3", null, 0, 0, "launch", false, Step.LAUNCH));
    }

    @ParameterizedTest(name = "{0} {1} {4} {5} -> {6}")
    @MethodSource("faults")
    void aFailureAtEachStepLeavesNothingBehind(String profile, String operation, int errno, int after, String platformFails,
                                               boolean guestFails, Step step) throws Exception {
        SimKvm kvm = Machines.sim(SimProfile.byId(profile));
        VmManagerImpl manager = manager(kvm, platformFails, guestFails);
        Map<String, String> fds = Machines.openFds();
        long maps = Machines.memfdMappings();
        Set<Thread> threads = Machines.janusThreads();
        if (operation != null) kvm.injectFault(operation, errno, after);

        MachineException e = assertThrows(MachineException.class, () -> manager.create(SpecReader.read(spec(profile), null)));
        assertEquals(step, e.step(), e.getMessage());
        assertTrue(e.getMessage().startsWith("test: " + step.description() + " failed: "), e.getMessage());
        if (operation != null) assertTrue(e.getMessage().contains(operation), e.getMessage());
        assertEquals(0, e.getSuppressed().length, "everything was released: " + List.of(e.getSuppressed()));
        assertEquals(List.of(), manager.list(), "no VM is registered");

        Machines.awaitNoNewJanusThreads(threads);
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "memfd mappings");

        // The injected fault fired once; the same host builds and runs the VM now (without the failing parts).
        VmManagerImpl fine = manager(kvm, null, false);
        String id = fine.create(SpecReader.read(spec(profile), null));
        fine.start(id);
        RunSummary s = fine.awaitEnd(id, Duration.ofSeconds(30));
        assertTrue(s.endedNormally(), s.end().toString());
        Machines.awaitNoNewJanusThreads(threads);
        Machines.assertNoNewFds(fds);
        assertEquals(maps, Machines.memfdMappings(), "memfd mappings after a full run");
    }
}
