/**
 * Guest memory: {@link org.janus.memory.api.MemoryBackend}s create {@link org.janus.memory.api.GuestRam} for RAM
 * regions, each of which knows, page by page, what is private and what is shared, converts sub-ranges, tells
 * {@link org.janus.memory.api.ConversionListener}s (the DMA users) about it, refuses host access to private pages
 * and reports the memory it really costs.
 */
@Export
@Version("1.3.0")
package org.janus.memory.api;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
