/**
 * What memory backends share: {@link org.janus.memory.spi.BackedGuestRam} holds a region's page state, its
 * listeners and its host access checks, and runs every conversion as steps that are undone in reverse order when
 * a later step fails. A backend supplies only the steps that differ.
 */
@Export
@Version("1.2.0")
package org.janus.memory.spi;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
