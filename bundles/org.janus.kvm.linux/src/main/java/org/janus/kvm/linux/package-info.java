/** Opening the real /dev/kvm outside a framework (tests, tools); inside one, use the {@code Kvm} service. */
@Export
@Version("1.0.0")
package org.janus.kvm.linux;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
