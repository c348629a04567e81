/**
 * The confidential-platform SPI. A vendor adds a platform by shipping one bundle that registers a
 * {@link org.janus.platform.api.ConfidentialPlatform} service; nothing in the core changes. Platforms keep no
 * per-VM state: what they need lives in the {@link org.janus.platform.api.VmContext} the machine hands them, so a
 * newer version of a platform bundle can take over a running VM.
 */
@Export
@Version("1.2.0")
package org.janus.platform.api;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
