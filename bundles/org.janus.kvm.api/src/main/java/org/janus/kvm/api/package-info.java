/**
 * Access to Linux KVM: one method per ioctl or guest_memfd file operation that Janus uses, named after it,
 * taking and returning records that mirror the kernel structs. Two providers implement it: the real kernel
 * through JNA ({@code org.janus.kvm.linux}) and the embedded software KVM ({@code org.janus.kvm.sim}).
 * Nothing above this layer touches native memory or file descriptors.
 */
@Export
@Version("1.3.0")
package org.janus.kvm.api;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
