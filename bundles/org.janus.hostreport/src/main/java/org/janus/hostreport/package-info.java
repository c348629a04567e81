/**
 * The host report: what a {@link org.janus.kvm.api.Kvm} provider offers (API version, VM types, guest_memfd
 * flags and memory attributes per VM type, asked on each VM's fd) and which memory strategy each confidential
 * platform would get there, with the capability values that decided it.
 */
@Export
@Version("1.0.0")
package org.janus.hostreport;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
