package org.janus.platform.pkvm.internal;

import org.janus.platform.tck.PlatformContract;
import org.janus.platform.tck.PlatformUnderTest;

/**
 * The pkvm platform passes the platform kit, in a framework of its own: arm64-pkvm hardware, in place only (arm64 has
 * no VM-wide attributes for the legacy strategy), RAM where QEMU's virt board has it and its UART outside, the
 * framebuffer as the converting guest, and a framebuffer of many frames as the one a bundle update runs under (the kit
 * measures a converting platform's progress in conversions).
 */
class PkvmContractIT extends PlatformContract {
    @Override protected PlatformUnderTest platform() {
        return PlatformUnderTest.builder(bundleOnClassPath("org.janus.platform.pkvm"), "pkvm")
                .hardware("arm64-pkvm")
                .ram("[ { \"name\": \"ram\", \"gpa\": \"1G\", \"size\": \"64M\" } ]")
                .mmio("[ { \"name\": \"uart\", \"gpa\": \"0x9000000\", \"size\": \"4K\" } ]")
                .strategies("guest-memfd")
                .guest("framebuffer", "{ \"size\": \"256K\", \"frames\": 4 }")
                .longGuest("framebuffer", "{ \"size\": \"64K\", \"frames\": 100000 }")
                .refuses("{ \"id\": \"pkvm\", \"colour\": \"blue\" }", "$.platform.colour")
                .unsupportedOn("x86", "amd-snp", "intel-tdx", "arm64")
                .build();
    }
}
