#!/usr/bin/env bash
# Fetches Debian's ovmf package (the OVMF firmware that the SEV-SNP examples boot) and extracts it, never installing
# it, into .cache/ovmf/<version>/ at the repository root; .cache/ovmf/current points at the version in use.
#
#   tools/fetch-ovmf.sh [--unless-installed] [DIR]
#
# DIR: copy OVMF.fd there (the runtime build passes the distribution's firmware/ directory).
# --unless-installed: fetch nothing when Debian's ovmf is installed (/usr/share/ovmf/OVMF.fd), which Janus finds by
# itself, and leave no OVMF.fd in DIR; this is how the build calls it, so that a machine with the package builds
# exactly as before.
#
# The suite is bookworm (JANUS_OVMF_SUITE to change it): its images are the ones whose SEV-SNP launch digests the
# tests recorded (bundles/org.janus.platform.snp/src/test/resources/measurements.json). Idempotent: a version
# already extracted is not fetched again; without network, the newest version already extracted is used. The
# package's SHA256 is checked against the suite's Packages index. Prints the extracted directory on stdout.
set -euo pipefail
. "$(dirname "$0")/lib/fetch-debian-firmware.sh"
fetch_debian_firmware fetch-ovmf ovmf usr/share/ovmf/OVMF.fd "${JANUS_OVMF_SUITE:-bookworm}" \
    "install Debian's ovmf (apt-get install ovmf), or build without firmware (-Djanus.ovmf.skip=true)" "$@"
