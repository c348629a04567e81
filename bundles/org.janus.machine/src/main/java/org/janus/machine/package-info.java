/**
 * The machine: {@link org.janus.machine.VmManager} builds VMs from a {@link org.janus.machine.MachineSpec}, runs
 * one thread per vCPU and ends them with a {@link org.janus.machine.RunSummary}. Guest programs for the software
 * KVM plug in through {@link org.janus.machine.GuestProgramFactory}.
 */
@Export
@Version("1.4.0")
package org.janus.machine;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
