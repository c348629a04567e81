/**
 * The Linux system calls both KVM providers make, through JNA: ioctl, memfd_create, mmap, fallocate, fstat,
 * mincore, and host access to mappings that is checked by the kernel (process_vm_readv/writev answer EFAULT
 * where a direct access would raise SIGBUS or SIGSEGV). For providers only: nothing above the KVM layer uses it.
 */
@Export
@Version("2.0.0")
package org.janus.kvm.libc;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
