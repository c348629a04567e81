package org.janus.devices;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ExitPort, PostCode, Cmos and EmptyPorts on a bus, as a guest reaches them. */
class SmallPortsTest {
    private final List<String> log = new ArrayList<>();
    private final IoBus bus = new IoBus(log::add);

    @Test
    void theExitPortHandsOverTheCodeOfEveryWriteZeroExtended() {
        List<Integer> codes = new ArrayList<>();
        bus.register(ExitPort.PORT, 1, "exit", new ExitPort(codes::add));
        bus.dispatch(Exits.out(ExitPort.PORT, 1, 0));
        bus.dispatch(Exits.out(ExitPort.PORT, 1, 0xfe));
        bus.dispatch(Exits.out(ExitPort.PORT, 2, 0x1234));
        bus.dispatch(Exits.out(ExitPort.PORT, 4, 0xffffffffL));
        assertEquals(List.of(0, 0xfe, 0x1234, -1), codes);
        assertEquals(0xff, Exits.value(bus.dispatch(Exits.in(ExitPort.PORT, 1))));
        assertEquals(List.of(), log);
    }

    @Test
    void postCodesAreKeptNotLogged() {
        PostCode post = new PostCode();
        bus.register(PostCode.PORT, 1, "post", post);
        assertEquals(-1, post.lastCode());
        for (int i = 0; i < 1000; i++) bus.dispatch(Exits.out(PostCode.PORT, 1, i));
        assertEquals(999 & 0xff, post.lastCode());
        assertEquals(1000, post.writes());
        assertEquals(0xff, Exits.value(bus.dispatch(Exits.in(PostCode.PORT, 1))));
        assertEquals(List.of(), log);
    }

    @Test
    void cmosIsRamWithAValidTimeBitAndReadOnlyStatusRegisters() {
        bus.register(Cmos.BASE, Cmos.PORT_COUNT, "cmos", new Cmos());
        bus.dispatch(Exits.out(Cmos.BASE, 1, 0x80 | 0x00));   // NMI mask bit set, index 0 (seconds)
        assertEquals(0, Exits.value(bus.dispatch(Exits.in(Cmos.BASE + 1, 1))), "no clock running: zeros");
        bus.dispatch(Exits.out(Cmos.BASE, 1, 0x0d));
        assertEquals(0x80, Exits.value(bus.dispatch(Exits.in(Cmos.BASE + 1, 1))), "register D: valid RAM and time");
        bus.dispatch(Exits.out(Cmos.BASE + 1, 1, 0));
        assertEquals(0x80, Exits.value(bus.dispatch(Exits.in(Cmos.BASE + 1, 1))), "register D is read-only");
        bus.dispatch(Exits.out(Cmos.BASE, 1, 0x40));
        bus.dispatch(Exits.out(Cmos.BASE + 1, 1, 0xa5));
        bus.dispatch(Exits.out(Cmos.BASE, 1, 0x0b));
        bus.dispatch(Exits.out(Cmos.BASE, 1, 0xc0));   // index 0x40 again, with the NMI bit
        assertEquals(0xa5, Exits.value(bus.dispatch(Exits.in(Cmos.BASE + 1, 1))), "RAM keeps what was written");
        assertEquals(0xff, Exits.value(bus.dispatch(Exits.in(Cmos.BASE, 1))), "the index port is write-only");
    }

    @Test
    void pciConfigurationAndOtherComPortsReadAsAbsentQuietly() {
        EmptyPorts pci = new EmptyPorts();
        EmptyPorts com2 = new EmptyPorts();
        bus.register(EmptyPorts.PCI_CONFIG_BASE, EmptyPorts.PCI_CONFIG_LENGTH, "pci-config (none)", pci);
        bus.register(EmptyPorts.COM2_BASE, 8, "com2 (none)", com2);
        // pci_check_type1(): CONFIG_ADDRESS does not read back 0x80000000, so no mechanism #1.
        bus.dispatch(Exits.out(0xcf8, 4, 0x80000000L));
        assertEquals(0xffffffffL, Exits.value(bus.dispatch(Exits.in(0xcf8, 4))));
        assertArrayEquals(new byte[] {-1, -1}, bus.dispatch(Exits.in(0xcfe, 2)));
        // The 8250 probe on COM2: IER reads all ones, not the 0 just written.
        bus.dispatch(Exits.out(EmptyPorts.COM2_BASE + 1, 1, 0));
        assertEquals(0xff, Exits.value(bus.dispatch(Exits.in(EmptyPorts.COM2_BASE + 1, 1))));
        assertEquals(3, pci.accesses());
        assertEquals(2, com2.accesses());
        assertEquals(0, bus.unclaimedAccesses());
        assertEquals(List.of(), log);
    }
}
